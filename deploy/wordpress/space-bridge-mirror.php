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
 * 1b. Test hook. POST /wp-json/space-bridge/v1/test-hook {"nonce"}, signed by the bridge with the
 *    same secret, sends a web hook {"event": "test", "nonce"} at once and waits for the bridge's
 *    answer: `space-bridge doctor` checks so that the blog's web hooks reach the bridge.
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
 * Sign a web hook body and post it to the bridge: the one code path of real and test hooks.
 *
 * @param string $body     JSON body.
 * @param bool   $blocking Wait for the answer (the test hook) or not (a post's hook).
 * @param float  $timeout  Seconds the request may take.
 * @return array|\WP_Error wp_remote_post()'s answer.
 */
function post_hook( $body, $blocking, $timeout ) {
	$t         = time();
	$signature = 't=' . $t . ',v1=' . hash_hmac( 'sha256', $t . '.' . $body, (string) setting( 'secret' ) );
	return wp_remote_post(
		(string) setting( 'url' ),
		array(
			'blocking'    => $blocking,
			'timeout'     => $timeout,
			'redirection' => 0,
			'headers'     => array(
				'Content-Type'             => 'application/json',
				'X-Space-Bridge-Signature' => $signature,
			),
			'body'        => $body,
			'data_format' => 'body',
		)
	);
}

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
	post_hook( $body, false, (float) setting( 'timeout', 0.2 ) );
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
 * 1b. Test hook, for `space-bridge doctor`
 * ------------------------------------------------------------------------------------- */

/** Seconds the test hook waits for the bridge's answer (the doctor waits 15 s for this route's). */
const TEST_HOOK_TIMEOUT = 5;

/**
 * Permission callback of POST /space-bridge/v1/test-hook: the request is signed like the bridge's
 * other requests to the mu-plugins (X-Space-Bridge-Timestamp, -Nonce, -Signature over
 * "space-bridge-rest-v2\n{timestamp}\n{nonce}\n{METHOD}\n{target}\n{raw body}", see
 * space-bridge/sso.php verify_signed_request), but with this plugin's secret, the site's
 * webhook_secret in the bridge configuration: the route exists for mirrored sites, which need not
 * log members in (and so may have no SPACE_BRIDGE_SSO_SECRET). The signed text starts with letters
 * and a web hook's with digits ("<t>."), so neither signature is ever worth anything as the other.
 * The timestamp window and the single-use nonce are sso.php's own (signed_target(), claim_nonce()).
 *
 * @return true|\WP_Error
 */
function verify_test_request( \WP_REST_Request $request ) {
	if ( ! function_exists( '\\SpaceBridge\\SSO\\claim_nonce' ) ) {
		return new \WP_Error( 'space_bridge_missing', __( 'The mu-plugin space-bridge.php is not loaded.', 'space-bridge' ), array( 'status' => 503 ) );
	}
	if ( ! configured() ) {
		return new \WP_Error( 'space_bridge_mirror_disabled', __( 'The mirror web hook is not configured.', 'space-bridge' ), array( 'status' => 503 ) );
	}
	$ts    = (string) $request->get_header( 'x_space_bridge_timestamp' );
	$nonce = (string) $request->get_header( 'x_space_bridge_nonce' );
	$sig   = strtolower( (string) $request->get_header( 'x_space_bridge_signature' ) );
	if ( ! preg_match( '/^[0-9]{1,12}$/D', $ts ) || abs( time() - (int) $ts ) > \SpaceBridge\SSO\REST_WINDOW ) {
		return new \WP_Error( 'space_bridge_stale', __( 'Missing or stale X-Space-Bridge-Timestamp.', 'space-bridge' ), array( 'status' => 401 ) );
	}
	if ( ! preg_match( '/^[A-Za-z0-9_-]{16,64}$/D', $nonce ) ) {
		return new \WP_Error( 'space_bridge_nonce', __( 'Missing or malformed X-Space-Bridge-Nonce.', 'space-bridge' ), array( 'status' => 401 ) );
	}
	$message  = \SpaceBridge\SSO\REST_CONTEXT . "\n" . $ts . "\n" . $nonce . "\n" . strtoupper( $request->get_method() ) . "\n"
		. \SpaceBridge\SSO\signed_target( $request ) . "\n" . $request->get_body();
	$expected = hash_hmac( 'sha256', $message, (string) setting( 'secret' ) );
	if ( '' === $sig || ! hash_equals( $expected, $sig ) ) {
		return new \WP_Error( 'space_bridge_signature', __( 'Bad signature.', 'space-bridge' ), array( 'status' => 401 ) );
	}
	if ( ! \SpaceBridge\SSO\claim_nonce( $nonce ) ) {
		return new \WP_Error( 'space_bridge_replay', __( 'Request already seen.', 'space-bridge' ), array( 'status' => 401 ) );
	}
	return true;
}

/**
 * POST /space-bridge/v1/test-hook {"nonce": "<32 lowercase hex>"}: send the mirror's web hook
 * {"event": "test", "nonce", "site", "post_id": 0} now, signed and sent as a post's (post_hook()),
 * but waiting for the bridge's answer, and tell the caller what came back: the bridge's HTTP
 * status (0: no answer), the transport error, and the nonce the bridge echoed (sync/wordpress_hooks.py
 * answers a test hook with it). Only a bridge that verified the signature knows the nonce is
 * wanted back, so an echo proves the hook arrived and was accepted.
 */
function rest_test_hook( \WP_REST_Request $request ) {
	$fields = $request->get_json_params();
	$nonce  = is_array( $fields ) && isset( $fields['nonce'] ) ? $fields['nonce'] : null;
	if ( ! is_string( $nonce ) || ! preg_match( '/^[0-9a-f]{32}$/D', $nonce ) ) {
		return new \WP_Error( 'space_bridge_test_nonce', __( 'nonce (32 lowercase hexadecimal digits) is required.', 'space-bridge' ), array( 'status' => 400 ) );
	}
	$version = defined( '\\SpaceBridge\\VERSION' ) ? \SpaceBridge\VERSION : null;
	$body    = wp_json_encode(
		array(
			'event'   => 'test',
			'nonce'   => $nonce,
			'site'    => home_url(),
			'post_id' => 0,
		)
	);
	$answer  = post_hook( $body, true, TEST_HOOK_TIMEOUT );
	if ( is_wp_error( $answer ) ) {
		return array(
			'sent'       => true,
			'status'     => 0,
			'error'      => $answer->get_error_message(),
			'nonce_echo' => null,
			'url'        => (string) setting( 'url' ),
			'version'    => $version,
		);
	}
	$data = json_decode( (string) wp_remote_retrieve_body( $answer ), true );
	$echo = is_array( $data ) && isset( $data['nonce'] ) && is_string( $data['nonce'] ) ? $data['nonce'] : null;
	return array(
		'sent'       => true,
		'status'     => (int) wp_remote_retrieve_response_code( $answer ),
		'error'      => '',
		'nonce_echo' => $echo,
		'url'        => (string) setting( 'url' ),
		'version'    => $version,
	);
}

function register_routes() {
	register_rest_route(
		'space-bridge/v1',
		'/test-hook',
		array(
			'methods'             => 'POST',
			'callback'            => __NAMESPACE__ . '\\rest_test_hook',
			'permission_callback' => __NAMESPACE__ . '\\verify_test_request',
		)
	);
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_routes' );

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
