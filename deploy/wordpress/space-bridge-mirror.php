<?php
/**
 * Plugin Name: Space Bridge mirror
 * Description: Every blog post gets its forum discussion: tells space-bridge when a post changes, and shows the discussion under the post.
 * Version:     0.1.0
 * Author:      Wikimedia Space maintainers
 * License:     GPL-3.0-or-later
 *
 * A must-use plugin beside space-bridge.php (which registers the _space_bridge_* post meta this
 * file reads). Configuration, in wp-config.php or a file it includes:
 *
 *   define( 'SPACE_BRIDGE_MIRROR_URL', 'https://bridge.example.org/webhooks/wordpress/news' );
 *   define( 'SPACE_BRIDGE_MIRROR_SECRET', '...' );      // the site's webhook_secret in the bridge config
 *   define( 'SPACE_BRIDGE_MIRROR_TIMEOUT', 0.2 );       // optional: seconds the send may take at most
 *
 * The constants may also live in /etc/wordpress/space-bridge-mirror.php, included when present
 * (the bridge's tests use /etc/wordpress/space-bridge-mirror-test.json: url, secret, timeout, which
 * wins while it exists; `make run` writes the PHP file and removes it when it stops). Without
 * URL and secret the plugin sends nothing (the bridge's reconcile still mirrors posts).
 *
 * 1. Web hook sender. When a post's status changes, or its title, content, excerpt, date,
 *    categories or tags change, the post id is remembered; at the end of the request
 *    (`shutdown`) one signed web hook per post is sent with wp_remote_post( blocking => false )
 *    and a short timeout, so publishing never waits for the bridge (nor fails when it is down).
 *    Auto-drafts, revisions, autosaves and the bridge's own meta writes (which change none of
 *    those fields) send nothing. (WordPress may give an uncategorized post its default
 *    category on the bridge's first meta write: that sends one web hook, which changes nothing
 *    on the forum since the bridge compares what the topic would look like.) Signature: X-Space-Bridge-Signature: t=<unix time>,v1=<hex of
 *    HMAC-SHA256(secret, "<t>." . body)>. The body is only a hint; the bridge reads the post.
 *
 * 2. Discussion display. Under a single post, from the post's meta only (page views never
 *    call the forum or the bridge): the reply count, the latest replies (avatar, author,
 *    excerpt, time, link) and "Join the discussion".
 */

namespace SpaceBridge\Mirror;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The strings of the mu-plugins are in the text domain 'space-bridge'. Its translations are
 * wp-content/languages/plugins/space-bridge-<locale>.mo, or else
 * mu-plugins/space-bridge/languages/space-bridge-<locale>.mo (load_muplugin_textdomain(),
 * wp-includes/l10n.php, tries them in that order). Loaded on `init`, not when this file is
 * read: on admin pages the locale is the user's (determine_locale() calls get_user_locale()),
 * but before pluggable.php, loaded only after the mu-plugins (wp-settings.php), there is no
 * current user yet and get_user_locale() quietly answers the site's locale instead. Every
 * mu-plugin file loads it so that each works alone; once one has found the translations, the
 * others skip.
 */
function load_textdomain() {
	if ( ! is_textdomain_loaded( 'space-bridge' ) ) {
		load_muplugin_textdomain( 'space-bridge', 'space-bridge/languages' );
	}
}
add_action( 'init', __NAMESPACE__ . '\\load_textdomain' );

if ( is_readable( '/etc/wordpress/space-bridge-mirror.php' ) ) {
	include_once '/etc/wordpress/space-bridge-mirror.php';
}

/**
 * The bridge's tests point the plugin at their own bridge with a JSON file (read on every
 * request: OPcache in `php -S` would serve a rewritten PHP file's old constants for 2 s).
 */
function test_settings() {
	static $settings = null;
	if ( null === $settings ) {
		$settings = array();
		$file     = '/etc/wordpress/space-bridge-mirror-test.json';
		if ( is_readable( $file ) ) {
			$data     = json_decode( (string) file_get_contents( $file ), true );
			$settings = is_array( $data ) ? $data : array();
		}
	}
	return $settings;
}

function setting( $name, $default = null ) {
	// A test's file, while it exists, wins over the constants (e.g. those `make run` writes).
	$test = test_settings();
	if ( $test ) {
		return isset( $test[ $name ] ) ? $test[ $name ] : $default;
	}
	$constant = 'SPACE_BRIDGE_MIRROR_' . strtoupper( $name );
	return defined( $constant ) ? constant( $constant ) : $default;
}

const META_PREFIX = '_space_bridge_';

/* ---------------------------------------------------------------------------------------
 * 1. Web hook sender
 * ------------------------------------------------------------------------------------- */

/** @var array<int, string> post id => event, sent at shutdown */
$GLOBALS['space_bridge_mirror_pending'] = array();

function configured() {
	return setting( 'url' ) && setting( 'secret' );
}

function post_types() {
	return (array) apply_filters( 'space_bridge_post_types', array( 'post' ) );
}

function mirrored( $post ) {
	if ( ! $post || ! in_array( $post->post_type, post_types(), true ) ) {
		return false;
	}
	if ( 'auto-draft' === $post->post_status || 'inherit' === $post->post_status ) {
		return false;
	}
	return ! wp_is_post_revision( $post ) && ! wp_is_post_autosave( $post );
}

function remember( $post_id, $event ) {
	if ( configured() && ! isset( $GLOBALS['space_bridge_mirror_pending'][ $post_id ] ) ) {
		$GLOBALS['space_bridge_mirror_pending'][ $post_id ] = $event;
	}
}

function on_transition( $new_status, $old_status, $post ) {
	if ( $new_status !== $old_status && mirrored( $post ) ) {
		remember( $post->ID, 'status:' . $old_status . '>' . $new_status );
	}
}
add_action( 'transition_post_status', __NAMESPACE__ . '\\on_transition', 10, 3 );

function on_updated( $post_id, $after, $before ) {
	if ( ! mirrored( $after ) ) {
		return;
	}
	foreach ( array( 'post_title', 'post_content', 'post_excerpt', 'post_status', 'post_name', 'post_date_gmt', 'post_password', 'post_author' ) as $field ) {
		if ( $after->$field !== $before->$field ) {
			remember( $post_id, 'edit' );
			return;
		}
	}
}
add_action( 'post_updated', __NAMESPACE__ . '\\on_updated', 10, 3 );

/** @var array<int, string> post id => its terms before this request changed the post */
$GLOBALS['space_bridge_mirror_terms_before'] = array();
/** @var array<int, bool> posts whose terms were written in this request */
$GLOBALS['space_bridge_mirror_terms_touched'] = array();

function taxonomies() {
	return array( 'category', 'post_tag', 'language' );
}

function terms_signature( $post_id ) {
	$ids = wp_get_object_terms( $post_id, array_filter( taxonomies(), 'taxonomy_exists' ), array( 'fields' => 'tt_ids' ) );
	$ids = is_wp_error( $ids ) ? array() : array_map( 'intval', $ids );
	sort( $ids );
	return implode( ',', $ids );
}

/**
 * wp_update_post() writes a post's categories and tags again even when they do not change
 * (the bridge's own meta writes do so too), so the terms are compared with a snapshot taken
 * before the update, at the end of the request.
 */
function before_update( $post_id ) {
	if ( configured() && ! isset( $GLOBALS['space_bridge_mirror_terms_before'][ $post_id ] ) ) {
		$GLOBALS['space_bridge_mirror_terms_before'][ $post_id ] = terms_signature( $post_id );
	}
}
add_action( 'pre_post_update', __NAMESPACE__ . '\\before_update', 10, 1 );

function on_terms( $object_id, $terms, $tt_ids, $taxonomy ) {
	if ( configured() && in_array( $taxonomy, taxonomies(), true ) ) {
		$GLOBALS['space_bridge_mirror_terms_touched'][ (int) $object_id ] = true;
	}
}
add_action( 'set_object_terms', __NAMESPACE__ . '\\on_terms', 10, 4 );

function changed_terms() {
	foreach ( array_keys( $GLOBALS['space_bridge_mirror_terms_touched'] ) as $post_id ) {
		if ( isset( $GLOBALS['space_bridge_mirror_pending'][ $post_id ] ) || ! mirrored( get_post( $post_id ) ) ) {
			continue;
		}
		$before = isset( $GLOBALS['space_bridge_mirror_terms_before'][ $post_id ] ) ? $GLOBALS['space_bridge_mirror_terms_before'][ $post_id ] : null;
		if ( null === $before || terms_signature( $post_id ) !== $before ) {
			remember( $post_id, 'terms' );
		}
	}
	$GLOBALS['space_bridge_mirror_terms_touched'] = array();
}

function on_delete( $post_id, $post = null ) {
	$post = $post ? $post : get_post( $post_id );
	if ( mirrored( $post ) ) {
		remember( (int) $post_id, 'deleted' );
	}
}
add_action( 'before_delete_post', __NAMESPACE__ . '\\on_delete', 10, 2 );

/**
 * Send one signed web hook; never waits for the answer.
 *
 * @param int    $post_id Post id.
 * @param string $event   What happened (a hint for the bridge's logs).
 */
function send( $post_id, $event ) {
	$post = get_post( $post_id );
	$body = wp_json_encode(
		array(
			'post_id'      => (int) $post_id,
			'modified_gmt' => $post ? $post->post_modified_gmt : gmdate( 'Y-m-d H:i:s' ),
			'status'       => $post ? $post->post_status : 'deleted',
			'event'        => $event,
			'site'         => home_url(),
		)
	);
	$t         = time();
	$signature = 't=' . $t . ',v1=' . hash_hmac( 'sha256', $t . '.' . $body, (string) setting( 'secret' ) );
	wp_remote_post(
		(string) setting( 'url' ),
		array(
			'blocking'    => false,
			'timeout'     => (float) setting( 'timeout', 0.2 ),
			'redirection' => 0,
			'headers'     => array(
				'Content-Type'            => 'application/json',
				'X-Space-Bridge-Signature' => $signature,
			),
			'body'        => $body,
			'data_format' => 'body',
		)
	);
}

function flush_pending() {
	if ( configured() ) {
		changed_terms();
	}
	$pending                                  = $GLOBALS['space_bridge_mirror_pending'];
	$GLOBALS['space_bridge_mirror_pending'] = array();
	if ( ! $pending || ! configured() ) {
		return;
	}
	if ( function_exists( 'fastcgi_finish_request' ) ) {
		fastcgi_finish_request(); // PHP-FPM: the editor has the answer before anything is sent.
	}
	foreach ( $pending as $post_id => $event ) {
		send( $post_id, $event );
	}
}
add_action( 'shutdown', __NAMESPACE__ . '\\flush_pending', 1 );

/* ---------------------------------------------------------------------------------------
 * 2. Discussion display
 * ------------------------------------------------------------------------------------- */

function meta( $post_id, $name ) {
	return get_post_meta( $post_id, META_PREFIX . $name, true );
}

/**
 * The discussion block of a post, from its meta ('' when the post has no topic yet).
 *
 * @param int $post_id Post id.
 * @return string HTML.
 */
function discussion_html( $post_id ) {
	$url = meta( $post_id, 'topic_url' );
	if ( ! $url ) {
		return '';
	}
	$count   = (int) meta( $post_id, 'reply_count' );
	$replies = json_decode( (string) meta( $post_id, 'replies' ), true );
	$replies = is_array( $replies ) ? $replies : array();

	$out  = '<section class="space-bridge-discussion" data-reply-count="' . esc_attr( $count ) . '">';
	$out .= '<h2 class="space-bridge-discussion-title">' . esc_html(
		sprintf( _n( '%s reply', '%s replies', $count, 'space-bridge' ), number_format_i18n( $count ) )
	) . '</h2>';
	if ( $replies ) {
		$out .= '<ol class="space-bridge-replies">';
		foreach ( $replies as $reply ) {
			if ( ! is_array( $reply ) ) {
				continue;
			}
			$name  = isset( $reply['name'] ) ? (string) $reply['name'] : (string) ( $reply['username'] ?? '' );
			$out  .= '<li class="space-bridge-reply">';
			if ( ! empty( $reply['avatar'] ) ) {
				$out .= '<img class="space-bridge-avatar" src="' . esc_url( $reply['avatar'] ) . '" alt="" width="48" height="48" loading="lazy"> ';
			}
			$out .= '<span class="space-bridge-author">' . esc_html( $name ) . '</span> ';
			if ( ! empty( $reply['created_at'] ) ) {
				$out .= '<time datetime="' . esc_attr( $reply['created_at'] ) . '">'
					. esc_html( mysql2date( get_option( 'date_format' ), get_date_from_gmt( gmdate( 'Y-m-d H:i:s', strtotime( $reply['created_at'] ) ) ) ) )
					. '</time>';
			}
			$out .= '<p class="space-bridge-excerpt">' . esc_html( (string) ( $reply['excerpt'] ?? '' ) ) . '</p>';
			if ( ! empty( $reply['url'] ) ) {
				$out .= '<a class="space-bridge-reply-link" href="' . esc_url( $reply['url'] ) . '">' . esc_html__( 'Read reply', 'space-bridge' ) . '</a>';
			}
			$out .= '</li>';
		}
		$out .= '</ol>';
	}
	$out .= '<p><a class="space-bridge-join" href="' . esc_url( $url ) . '">' . esc_html__( 'Join the discussion', 'space-bridge' ) . '</a></p>';
	$out .= '</section>';
	return $out;
}

function append_discussion( $content ) {
	if ( is_admin() || is_feed() || ! is_singular( post_types() ) || ! in_the_loop() || ! is_main_query() ) {
		return $content;
	}
	return $content . discussion_html( get_the_ID() );
}
add_filter( 'the_content', __NAMESPACE__ . '\\append_discussion', 20 );
