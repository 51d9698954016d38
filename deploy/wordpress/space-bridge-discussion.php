<?php
/**
 * Plugin Name: Space Bridge discussion panel
 * Description: Shows each post's forum discussion in the editor and the posts list, with "Sync now" and "Link to an existing topic…".
 * Version:     0.1.0
 * Author:      Wikimedia Space maintainers
 * License:     GPL-3.0-or-later
 * Text Domain: space-bridge
 *
 * A must-use plugin beside space-bridge.php (which registers the _space_bridge_* post meta read
 * here) and space-bridge-mirror.php (whose settings and web hook sender are used here; without
 * them configured the panel shows the meta only and offers no action).
 *
 * What the editor sees, and where it comes from:
 *   - the topic link and the last sync time: the post meta the bridge writes
 *     (_space_bridge_topic_url, _space_bridge_topic_id, _space_bridge_synced_at);
 *   - the state (published, unlisted, pending, failed, not yet) and the note (e.g. "title
 *     padded"): the bridge's own records (its mapping table and job queue), asked server-side
 *     with a signed request (sync/discussion.py on the bridge) when the panel opens. When the
 *     bridge cannot be reached the panel says so and shows what the meta knows.
 *
 * Where: a "Forum discussion" panel in the block editor's Post sidebar (a
 * PluginDocumentSettingPanel registered by a small inline script: no build step); a meta box of
 * the same in the classic editor; a "Discussion" column and a "Sync now" row action in the posts
 * list. (The panel is not titled "Discussion": WordPress's own comment settings panel is.)
 *
 * Actions, each over the REST API (cookie authentication needs the REST nonce, X-WP-Nonce,
 * which wp.apiFetch sends; without it WordPress treats the request as anonymous,
 * rest_cookie_check_errors() in wp-includes/rest-api.php) or, without JavaScript, admin-post.php
 * with a wp_nonce_url() link checked by check_admin_referer():
 *   - "Sync now" (edit_post on that post): the mirror plugin's own signed web hook
 *     (\SpaceBridge\Mirror\send), which the bridge's receiver turns into the mirror job. Its
 *     event is "sync:<unix time>><status>", so each press (one a second at most) is a new job
 *     for the bridge, whose job key includes the event (sync/wordpress_hooks.py), even when an
 *     earlier job of the same post version failed for good.
 *   - "Link to an existing topic…" (edit_post on that post AND edit_others_posts): re-attaches
 *     the post to a forum topic after a migration. The bridge checks the topic on the forum,
 *     records the mapping and writes the meta (through its job queue). edit_others_posts
 *     (editors and administrators), not manage_options: re-attaching a discussion is an
 *     editorial act on any post of the blog, which editors already govern; not edit_post alone:
 *     the mirror then rewrites the topic's first post from the blog post, so an author could
 *     otherwise take over any forum topic no post holds yet with their own post.
 *
 * The requests to the bridge are signed as the mirror's web hooks are (X-Space-Bridge-Signature:
 * t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." . body)>) with the mirror's secret, read
 * through its settings (\SpaceBridge\Mirror\setting), to <mirror web hook URL>/discussion/<route>.
 */

namespace SpaceBridge\Discussion;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The strings are in the text domain 'space-bridge', loaded on `init` as every mu-plugin file
 * does (see space-bridge-search.php for why `init`); once one file has loaded it, the others skip.
 */
function load_textdomain() {
	if ( ! is_textdomain_loaded( 'space-bridge' ) ) {
		load_muplugin_textdomain( 'space-bridge', 'space-bridge/languages' );
	}
}
add_action( 'init', __NAMESPACE__ . '\\load_textdomain' );

const META_PREFIX    = '_space_bridge_';
const REST_NAMESPACE = 'space-bridge/v1';
const SCRIPT         = 'space-bridge-discussion';
const SYNC_ACTION    = 'space_bridge_sync';
const BRIDGE_TIMEOUT = 10;  // seconds a link may take (the bridge asks the forum)
const STATUS_TIMEOUT = 5;   // seconds the panel's status question may take

/* -- what the plugin needs from its siblings ------------------------------------------------ */

function post_types() {
	return function_exists( '\\SpaceBridge\\post_types' ) ? \SpaceBridge\post_types() : array( 'post' );
}

/** Whether the mirror plugin is loaded and configured (URL and secret of the bridge). */
function bridge_configured() {
	return function_exists( '\\SpaceBridge\\Mirror\\configured' ) && \SpaceBridge\Mirror\configured();
}

function meta( $post_id, $name ) {
	return (string) get_post_meta( $post_id, META_PREFIX . $name, true );
}

/* -- capabilities ------------------------------------------------------------------------- */

/** A post of a mirrored type, or null. */
function mirrored_post( $post_id ) {
	$post = get_post( (int) $post_id );
	return $post && in_array( $post->post_type, post_types(), true ) ? $post : null;
}

/**
 * Who sees a post's discussion: whoever may edit the post, and, for a published post (whose
 * discussion link is public under it anyway), anyone who may edit posts at all (a contributor
 * reading the posts list).
 */
function can_view( $post ) {
	if ( ! $post ) {
		return false;
	}
	if ( current_user_can( 'edit_post', $post->ID ) ) {
		return true;
	}
	return 'publish' === $post->post_status && current_user_can( 'edit_posts' );
}

function can_sync( $post ) {
	return $post && current_user_can( 'edit_post', $post->ID );
}

function can_link( $post ) {
	return can_sync( $post ) && current_user_can( 'edit_others_posts' );
}

/* -- the bridge ------------------------------------------------------------------------------ */

/**
 * Ask the bridge: a signed POST to <mirror URL>/discussion/<route>, waiting for the answer.
 *
 * @param string $route  'status' or 'link'.
 * @param array  $fields  The JSON body.
 * @param int    $timeout Seconds to wait at most.
 * @return array|\WP_Error array( 'status' => int, 'data' => array ) or why the bridge did not answer.
 */
function ask_bridge( $route, array $fields, $timeout = BRIDGE_TIMEOUT ) {
	if ( ! bridge_configured() ) {
		return new \WP_Error( 'space_bridge_unconfigured', __( 'This site is not connected to the bridge.', 'space-bridge' ) );
	}
	$body      = wp_json_encode( $fields );
	$t         = time();
	$signature = 't=' . $t . ',v1=' . hash_hmac( 'sha256', $t . '.' . $body, (string) \SpaceBridge\Mirror\setting( 'secret' ) );
	$response  = wp_remote_post(
		untrailingslashit( (string) \SpaceBridge\Mirror\setting( 'url' ) ) . '/discussion/' . $route,
		array(
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
	if ( is_wp_error( $response ) ) {
		return new \WP_Error( 'space_bridge_unreachable', __( 'The bridge could not be reached.', 'space-bridge' ) );
	}
	$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
	return array(
		'status' => (int) wp_remote_retrieve_response_code( $response ),
		'data'   => is_array( $data ) ? $data : array(),
	);
}

/** The states the panel knows, in words. */
function state_labels() {
	return array(
		'published' => __( 'Published', 'space-bridge' ),
		'unlisted'  => __( 'Unlisted on the forum', 'space-bridge' ),
		'pending'   => __( 'Pending', 'space-bridge' ),
		'failed'    => __( 'Failed', 'space-bridge' ),
		'not_yet'   => __( 'Not yet', 'space-bridge' ),
		'unknown'   => __( 'Unknown', 'space-bridge' ),
	);
}

/** The state from the meta alone (the bridge not asked, or not answering). */
function state_from_meta( $post ) {
	return '' !== meta( $post->ID, 'topic_url' ) ? 'published' : 'not_yet';
}

/**
 * Everything the panel shows of a post, for the current user.
 *
 * @param \WP_Post $post Post.
 * @param bool     $ask  Whether to ask the bridge for the state and note.
 * @return array
 */
function discussion( $post, $ask = true ) {
	$topic_url = meta( $post->ID, 'topic_url' );
	$synced_at = meta( $post->ID, 'synced_at' );
	$out       = array(
		'post_id'        => $post->ID,
		'topic_id'       => '' !== meta( $post->ID, 'topic_id' ) ? (int) meta( $post->ID, 'topic_id' ) : null,
		'topic_url'      => '' !== $topic_url ? esc_url_raw( $topic_url ) : null,
		'synced_at'      => '' !== $synced_at ? $synced_at : null,
		'synced_at_text' => '' !== $synced_at ? time_text( $synced_at ) : null,
		'state'          => state_from_meta( $post ),
		'note'           => null,
		'error'          => null,
		'bridge_error'   => null,
		'connected'      => bridge_configured(),
		'can_sync'       => bridge_configured() && can_sync( $post ),
		'can_link'       => bridge_configured() && can_link( $post ),
	);
	if ( $ask && bridge_configured() ) {
		$answer = ask_bridge( 'status', array( 'post_id' => $post->ID ), STATUS_TIMEOUT );
		if ( is_wp_error( $answer ) ) {
			$out['bridge_error'] = $answer->get_error_message();
		} elseif ( 200 !== $answer['status'] ) {
			/* translators: %d: HTTP status code */
			$out['bridge_error'] = sprintf( __( 'The bridge refused the question (HTTP %d).', 'space-bridge' ), $answer['status'] );
		} else {
			$data         = $answer['data'];
			$out['state'] = isset( $data['state'] ) && isset( state_labels()[ $data['state'] ] ) ? $data['state'] : 'unknown';
			$out['note']  = isset( $data['note'] ) && is_string( $data['note'] ) ? $data['note'] : null;
			if ( ! $out['topic_url'] && ! empty( $data['topic_url'] ) && is_string( $data['topic_url'] ) ) {
				$out['topic_url'] = esc_url_raw( $data['topic_url'] );  // linked, meta not written yet
				$out['topic_id']  = isset( $data['topic_id'] ) ? (int) $data['topic_id'] : null;
			}
			// The last error names the forum's answer: for those who may act on the post only.
			if ( can_sync( $post ) && isset( $data['job']['last_error'] ) && is_string( $data['job']['last_error'] ) ) {
				$out['error'] = wp_html_excerpt( $data['job']['last_error'], 300, '…' );
			}
		}
	}
	$out['state_text'] = state_labels()[ $out['state'] ];
	return $out;
}

/** An ISO 8601 UTC time as the site shows dates and times, in its time zone. */
function time_text( $iso ) {
	$ts = strtotime( $iso );
	if ( false === $ts ) {
		return $iso;
	}
	/* translators: 1: date, 2: time */
	return sprintf( __( '%1$s at %2$s', 'space-bridge' ), wp_date( get_option( 'date_format' ), $ts ), wp_date( get_option( 'time_format' ), $ts ) );
}

/** "Sync now": the mirror plugin's signed web hook, with an event that makes it a new job. */
function sync_now( $post ) {
	\SpaceBridge\Mirror\send( $post->ID, 'sync:' . time() . '>' . sanitize_key( $post->post_status ) );
}

/* -- REST routes ------------------------------------------------------------------------------ */

function rest_post( \WP_REST_Request $request ) {
	return mirrored_post( $request['id'] );
}

function rest_forbidden() {
	return new \WP_Error( 'rest_forbidden', __( 'Sorry, you are not allowed to do that.', 'space-bridge' ), array( 'status' => rest_authorization_required_code() ) );
}

function rest_get( \WP_REST_Request $request ) {
	return rest_ensure_response( discussion( rest_post( $request ) ) );
}

function rest_sync( \WP_REST_Request $request ) {
	$post = rest_post( $request );
	if ( ! bridge_configured() ) {
		return new \WP_Error( 'space_bridge_unconfigured', __( 'This site is not connected to the bridge.', 'space-bridge' ), array( 'status' => 503 ) );
	}
	sync_now( $post );
	return rest_ensure_response(
		array(
			'asked'   => true,
			'message' => __( 'The bridge was asked to sync this post. Its state is updated in a moment.', 'space-bridge' ),
		)
	);
}

function rest_link( \WP_REST_Request $request ) {
	$post   = rest_post( $request );
	$fields = $request->get_json_params();
	$topic  = is_array( $fields ) && isset( $fields['topic_id'] ) ? $fields['topic_id'] : null;
	if ( ! ( is_int( $topic ) || ( is_string( $topic ) && preg_match( '/^[1-9][0-9]{0,17}$/D', $topic ) ) ) || (int) $topic < 1 ) {
		return new \WP_Error( 'space_bridge_topic_id', __( 'Give the number of the forum topic (the number at the end of its address).', 'space-bridge' ), array( 'status' => 400 ) );
	}
	$user   = wp_get_current_user();
	$answer = ask_bridge(
		'link',
		array(
			'post_id'  => $post->ID,
			'topic_id' => (int) $topic,
			'user'     => substr( preg_replace( '/[^A-Za-z0-9 _.@-]/', '', $user->user_login ), 0, 60 ),
		)
	);
	if ( is_wp_error( $answer ) ) {
		$answer->add_data( array( 'status' => 502 ) );
		return $answer;
	}
	if ( 200 !== $answer['status'] ) {
		$error = isset( $answer['data']['error'] ) && is_string( $answer['data']['error'] ) ? $answer['data']['error'] : '';
		return new \WP_Error(
			'space_bridge_link_refused',
			/* translators: %s: the bridge's reason, e.g. "there is no topic 12 on the forum" */
			sprintf( __( 'The bridge refused the link: %s', 'space-bridge' ), $error ? $error : 'HTTP ' . $answer['status'] ),
			array( 'status' => in_array( $answer['status'], array( 404, 409 ), true ) ? $answer['status'] : 502 )
		);
	}
	$data = $answer['data'];
	return rest_ensure_response(
		array(
			'linked'    => true,
			'changed'   => ! empty( $data['changed'] ),
			'topic_id'  => isset( $data['topic_id'] ) ? (int) $data['topic_id'] : (int) $topic,
			'topic_url' => isset( $data['topic_url'] ) ? esc_url_raw( (string) $data['topic_url'] ) : null,
			'message'   => empty( $data['changed'] )
				? __( 'The post was already linked to this topic.', 'space-bridge' )
				: __( 'Linked. The bridge writes the topic to the post and brings the topic in step in a moment.', 'space-bridge' ),
		)
	);
}

function register_routes() {
	$id   = array(
		'id' => array(
			'type'              => 'integer',
			'required'          => true,
			'validate_callback' => function ( $value ) {
				return null !== mirrored_post( $value );
			},
		),
	);
	$base = '/discussion/(?P<id>[\d]+)';
	register_rest_route(
		REST_NAMESPACE,
		$base,
		array(
			'methods'             => 'GET',
			'callback'            => __NAMESPACE__ . '\\rest_get',
			'args'                => $id,
			'permission_callback' => function ( \WP_REST_Request $request ) {
				return can_view( rest_post( $request ) ) ? true : rest_forbidden();
			},
		)
	);
	register_rest_route(
		REST_NAMESPACE,
		$base . '/sync',
		array(
			'methods'             => 'POST',
			'callback'            => __NAMESPACE__ . '\\rest_sync',
			'args'                => $id,
			'permission_callback' => function ( \WP_REST_Request $request ) {
				return can_sync( rest_post( $request ) ) ? true : rest_forbidden();
			},
		)
	);
	register_rest_route(
		REST_NAMESPACE,
		$base . '/link',
		array(
			'methods'             => 'POST',
			'callback'            => __NAMESPACE__ . '\\rest_link',
			'args'                => $id,
			'permission_callback' => function ( \WP_REST_Request $request ) {
				return can_link( rest_post( $request ) ) ? true : rest_forbidden();
			},
		)
	);
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_routes' );

/* -- the block editor panel ----------------------------------------------------------------- */

function strings() {
	return array(
		'title'       => __( 'Forum discussion', 'space-bridge' ),
		'topic'       => __( 'Topic', 'space-bridge' ),
		/* translators: %s: topic number */
		'topicN'      => __( 'Topic #%s', 'space-bridge' ),
		'none'        => __( 'No topic yet', 'space-bridge' ),
		'state'       => __( 'State', 'space-bridge' ),
		'lastSync'    => __( 'Last sync', 'space-bridge' ),
		'never'       => __( 'Never', 'space-bridge' ),
		'note'        => __( 'Note', 'space-bridge' ),
		'lastError'   => __( 'Last error', 'space-bridge' ),
		'loading'     => __( 'Loading…', 'space-bridge' ),
		'syncNow'     => __( 'Sync now', 'space-bridge' ),
		'linkOpen'    => __( 'Link to an existing topic…', 'space-bridge' ),
		'topicId'     => __( 'Forum topic number', 'space-bridge' ),
		'topicHelp'   => __( 'After a migration: the number at the end of the topic\'s address. The topic\'s first post is then kept in step with this post.', 'space-bridge' ),
		'link'        => __( 'Link', 'space-bridge' ),
		'cancel'      => __( 'Cancel', 'space-bridge' ),
		'unconnected' => __( 'This site is not connected to the bridge: no action is possible.', 'space-bridge' ),
		'saveFirst'   => __( 'Save the post first.', 'space-bridge' ),
	);
}

function enqueue_editor_assets() {
	$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
	if ( ! $screen || ! in_array( $screen->post_type, post_types(), true ) ) {
		return;
	}
	wp_register_script( SCRIPT, false, array( 'wp-plugins', 'wp-edit-post', 'wp-element', 'wp-components', 'wp-data', 'wp-api-fetch' ), '0.1.0', true );
	wp_add_inline_script( SCRIPT, 'window.spaceBridgeDiscussion = ' . wp_json_encode( array( 'strings' => strings() ) ) . ';', 'before' );
	wp_add_inline_script( SCRIPT, editor_script() );
	wp_enqueue_script( SCRIPT );
}
add_action( 'enqueue_block_editor_assets', __NAMESPACE__ . '\\enqueue_editor_assets' );

/** The panel: plain ES5 with wp.element.createElement, no build step. Text nodes escape what they show. */
function editor_script() {
	return <<<'JS'
( function ( wp, config ) {
	var el = wp.element.createElement, useState = wp.element.useState, useEffect = wp.element.useEffect;
	var components = wp.components, t = config.strings;

	function row( label, value, name ) {
		return el( 'div', { className: 'space-bridge-discussion-row space-bridge-discussion-' + name, style: { marginBottom: '8px' } },
			el( 'strong', null, label + ': ' ), value );
	}

	function Panel() {
		var postId = wp.data.useSelect( function ( select ) { return select( 'core/editor' ).getCurrentPostId(); }, [] );
		var isNew = wp.data.useSelect( function ( select ) { return select( 'core/editor' ).isEditedPostNew(); }, [] );
		var d = useState( null ), data = d[ 0 ], setData = d[ 1 ];
		var m = useState( null ), notice = m[ 0 ], setNotice = m[ 1 ];
		var b = useState( false ), busy = b[ 0 ], setBusy = b[ 1 ];
		var f = useState( false ), linking = f[ 0 ], setLinking = f[ 1 ];
		var v = useState( '' ), topicId = v[ 0 ], setTopicId = v[ 1 ];
		var path = '/space-bridge/v1/discussion/' + postId;

		function load() {
			if ( ! postId || isNew ) { return; }
			wp.apiFetch( { path: path } ).then( setData, function ( e ) { setNotice( { status: 'error', text: e.message } ); } );
		}
		useEffect( load, [ postId, isNew ] );

		function act( suffix, body ) {
			setBusy( true );
			setNotice( null );
			return wp.apiFetch( { path: path + '/' + suffix, method: 'POST', data: body || {} } ).then( function ( answer ) {
				setBusy( false );
				setNotice( { status: 'success', text: answer.message } );
				setLinking( false );
				load();
			}, function ( e ) {
				setBusy( false );
				setNotice( { status: 'error', text: e.message } );
			} );
		}

		var body;
		if ( isNew ) {
			body = el( 'p', null, t.saveFirst );
		} else if ( ! data ) {
			body = notice ? null : el( 'p', null, t.loading );
		} else {
			body = [
				row( t.topic, data.topic_url
					? el( 'a', { href: data.topic_url, target: '_blank', rel: 'noopener noreferrer', className: 'space-bridge-discussion-topic-link' },
						data.topic_id ? t.topicN.replace( '%s', data.topic_id ) : data.topic_url )
					: t.none, 'topic' ),
				row( t.state, el( 'span', { className: 'space-bridge-discussion-state-' + data.state }, data.state_text ), 'state' ),
				row( t.lastSync, data.synced_at_text || t.never, 'synced' ),
				data.note ? row( t.note, data.note, 'note' ) : null,
				data.error ? row( t.lastError, data.error, 'error' ) : null,
				data.bridge_error ? el( components.Notice, { status: 'warning', isDismissible: false }, data.bridge_error ) : null,
				data.connected ? null : el( 'p', null, t.unconnected )
			];
			var actions = [];
			if ( data.can_sync ) {
				actions.push( el( components.Button, { key: 'sync', variant: 'secondary', isBusy: busy, disabled: busy,
					className: 'space-bridge-discussion-sync', onClick: function () { act( 'sync' ); } }, t.syncNow ) );
			}
			if ( data.can_link && ! linking ) {
				actions.push( el( components.Button, { key: 'link', variant: 'tertiary', disabled: busy,
					className: 'space-bridge-discussion-link-open', onClick: function () { setLinking( true ); } }, t.linkOpen ) );
			}
			body.push( el( 'div', { key: 'actions', className: 'space-bridge-discussion-actions', style: { display: 'flex', flexWrap: 'wrap', gap: '8px' } }, actions ) );
			if ( data.can_link && linking ) {
				body.push( el( 'form', { key: 'link-form', className: 'space-bridge-discussion-link-form', style: { marginTop: '12px' },
					onSubmit: function ( e ) { e.preventDefault(); act( 'link', { topic_id: topicId.trim() } ); } },
					el( components.TextControl, { label: t.topicId, help: t.topicHelp, value: topicId, inputMode: 'numeric',
						className: 'space-bridge-discussion-topic-id', onChange: setTopicId } ),
					el( components.Button, { variant: 'primary', type: 'submit', isBusy: busy, disabled: busy || ! topicId.trim() }, t.link ),
					' ',
					el( components.Button, { variant: 'tertiary', onClick: function () { setLinking( false ); } }, t.cancel ) ) );
			}
		}
		return el( wp.editPost.PluginDocumentSettingPanel, { name: 'space-bridge-discussion', title: t.title, className: 'space-bridge-discussion' },
			notice ? el( components.Notice, { status: notice.status, isDismissible: false, className: 'space-bridge-discussion-notice' }, notice.text ) : null,
			body );
	}

	wp.plugins.registerPlugin( 'space-bridge-discussion', { render: Panel, icon: 'format-chat' } );
} )( window.wp, window.spaceBridgeDiscussion );
JS;
}

/* -- the classic editor's meta box, and "Sync now" without JavaScript ------------------------ */

function add_meta_box() {
	foreach ( post_types() as $post_type ) {
		\add_meta_box(
			'space-bridge-discussion',
			__( 'Forum discussion', 'space-bridge' ),
			__NAMESPACE__ . '\\render_meta_box',
			$post_type,
			'side',
			'default',
			array( '__back_compat_meta_box' => true )  // the block editor has the panel instead
		);
	}
}
add_action( 'add_meta_boxes', __NAMESPACE__ . '\\add_meta_box' );

function sync_url( $post ) {
	return wp_nonce_url( add_query_arg( array( 'action' => SYNC_ACTION, 'post' => $post->ID ), admin_url( 'admin-post.php' ) ), SYNC_ACTION . '_' . $post->ID );
}

function render_meta_box( $post ) {
	if ( 'auto-draft' === $post->post_status ) {
		echo '<p>' . esc_html__( 'Save the post first.', 'space-bridge' ) . '</p>';
		return;
	}
	$d = discussion( $post );
	echo '<p><strong>' . esc_html__( 'Topic', 'space-bridge' ) . ':</strong> ';
	if ( $d['topic_url'] ) {
		/* translators: %s: topic number */
		$label = $d['topic_id'] ? sprintf( __( 'Topic #%s', 'space-bridge' ), number_format_i18n( $d['topic_id'] ) ) : $d['topic_url'];
		echo '<a href="' . esc_url( $d['topic_url'] ) . '" target="_blank" rel="noopener noreferrer">' . esc_html( $label ) . '</a>';
	} else {
		echo esc_html__( 'No topic yet', 'space-bridge' );
	}
	echo '</p><p><strong>' . esc_html__( 'State', 'space-bridge' ) . ':</strong> ' . esc_html( $d['state_text'] ) . '</p>';
	echo '<p><strong>' . esc_html__( 'Last sync', 'space-bridge' ) . ':</strong> ' . esc_html( $d['synced_at_text'] ? $d['synced_at_text'] : __( 'Never', 'space-bridge' ) ) . '</p>';
	if ( $d['note'] ) {
		echo '<p><strong>' . esc_html__( 'Note', 'space-bridge' ) . ':</strong> ' . esc_html( $d['note'] ) . '</p>';
	}
	if ( $d['error'] ) {
		echo '<p><strong>' . esc_html__( 'Last error', 'space-bridge' ) . ':</strong> ' . esc_html( $d['error'] ) . '</p>';
	}
	if ( $d['bridge_error'] ) {
		echo '<p>' . esc_html( $d['bridge_error'] ) . '</p>';
	}
	if ( $d['can_sync'] ) {
		echo '<p><a class="button" href="' . esc_url( sync_url( $post ) ) . '">' . esc_html__( 'Sync now', 'space-bridge' ) . '</a></p>';
	}
}

/** admin-post.php?action=space_bridge_sync&post=<id>&_wpnonce=...: the meta box's and the posts list's "Sync now". */
function admin_post_sync() {
	$post_id = isset( $_GET['post'] ) ? absint( $_GET['post'] ) : 0; // phpcs:ignore WordPress.Security.NonceVerification -- checked next
	check_admin_referer( SYNC_ACTION . '_' . $post_id );
	$post = mirrored_post( $post_id );
	if ( ! $post || ! can_sync( $post ) ) {
		wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'space-bridge' ), '', array( 'response' => 403 ) );
	}
	if ( ! bridge_configured() ) {
		wp_die( esc_html__( 'This site is not connected to the bridge.', 'space-bridge' ), '', array( 'response' => 503 ) );
	}
	sync_now( $post );
	$back = wp_get_referer();
	wp_safe_redirect( add_query_arg( 'space_bridge_synced', $post->ID, $back ? $back : admin_url( 'edit.php' ) ) );
	exit;
}
add_action( 'admin_post_' . SYNC_ACTION, __NAMESPACE__ . '\\admin_post_sync' );

function synced_notice() {
	if ( empty( $_GET['space_bridge_synced'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification -- a notice only
		return;
	}
	echo '<div class="notice notice-success is-dismissible"><p>' . esc_html__( 'The bridge was asked to sync this post. Its state is updated in a moment.', 'space-bridge' ) . '</p></div>';
}
add_action( 'admin_notices', __NAMESPACE__ . '\\synced_notice' );

/* -- the posts list ------------------------------------------------------------------------- */

function add_column( $columns, $post_type = 'post' ) {
	if ( in_array( $post_type, post_types(), true ) ) {
		$columns['space_bridge_discussion'] = __( 'Discussion', 'space-bridge' );
	}
	return $columns;
}
add_filter( 'manage_posts_columns', __NAMESPACE__ . '\\add_column', 10, 2 );

/**
 * The column from the meta only (the list never asks the bridge: one request per row would make
 * the page as slow as the bridge): the topic link and when it was synced, else "Not yet" for a
 * published post (its mirror job has not written the topic yet) and a dash for the others.
 */
function render_column( $column, $post_id ) {
	if ( 'space_bridge_discussion' !== $column ) {
		return;
	}
	$post = mirrored_post( $post_id );
	if ( ! $post || ! can_view( $post ) ) {
		return;
	}
	$url = meta( $post_id, 'topic_url' );
	if ( '' !== $url ) {
		$id = (int) meta( $post_id, 'topic_id' );
		/* translators: %s: topic number */
		$label = $id ? sprintf( __( 'Topic #%s', 'space-bridge' ), number_format_i18n( $id ) ) : __( 'Topic', 'space-bridge' );
		echo '<a class="space-bridge-topic-link" href="' . esc_url( $url ) . '">' . esc_html( $label ) . '</a>';
		$synced = meta( $post_id, 'synced_at' );
		if ( '' !== $synced && false !== strtotime( $synced ) ) {
			/* translators: %s: how long ago, e.g. "5 mins" */
			echo '<br><span class="space-bridge-synced" title="' . esc_attr( time_text( $synced ) ) . '">' . esc_html( sprintf( __( 'synced %s ago', 'space-bridge' ), human_time_diff( strtotime( $synced ) ) ) ) . '</span>';
		}
	} elseif ( 'publish' === $post->post_status ) {
		echo '<span class="space-bridge-state">' . esc_html__( 'Not yet', 'space-bridge' ) . '</span>';
	} else {
		echo '<span class="space-bridge-state" aria-label="' . esc_attr__( 'No discussion', 'space-bridge' ) . '">—</span>';
	}
}
add_action( 'manage_posts_custom_column', __NAMESPACE__ . '\\render_column', 10, 2 );

/** "Sync now" under the title, for those who may edit the post. */
function row_actions( $actions, $post ) {
	if ( $post && in_array( $post->post_type, post_types(), true ) && 'auto-draft' !== $post->post_status
		&& bridge_configured() && can_sync( $post ) ) {
		$actions['space_bridge_sync'] = '<a class="space-bridge-sync" href="' . esc_url( sync_url( $post ) ) . '">' . esc_html__( 'Sync now', 'space-bridge' ) . '</a>';
	}
	return $actions;
}
add_filter( 'post_row_actions', __NAMESPACE__ . '\\row_actions', 10, 2 );
