<?php
/**
 * Plugin Name: Space Bridge
 * Description: WordPress side of space-bridge, the glue between this site, Discourse, the wikis and chat.
 * Version:     0.1.0
 * Author:      Wikimedia Space maintainers
 * License:     GPL-3.0-or-later
 *
 * A must-use plugin: copy this file into wp-content/mu-plugins/ (the dev stack does so on
 * every `deploy/dev/stack.sh up`). It has no settings page and no database tables of its own.
 *
 * Sections (each self-contained; add new ones at the end, with a section comment):
 *
 *   1. Post meta the bridge owns   - registers the _space_bridge_* keys for REST and XML-RPC.
 *   2. XML-RPC parity              - gives wp.getPost/wp.getPosts the rendered title, content
 *                                    and excerpt that the REST API returns, and the real status.
 *   4. Meta writes                 - the bridge's meta written alone, never by saving the post
 *                                    (which could undo an editor's concurrent change).
 *   3. Wikimedia login (SSO)       - space-bridge/sso.php: "Log in with your Wikimedia account"
 *                                    (DiscourseConnect client of the bridge), single log-out and
 *                                    demotion over signed REST routes, and the author's linked
 *                                    Wikimedia account the mirror posts as. Constants: see that file.
 *
 * The Python side is bridge/clients/wordpress/meta.py; META_FIELDS there must list the same keys
 * as meta_fields() here.
 *
 * Requires WordPress >= 5.7 (REST `modified_after`) and PHP >= 7.4.
 */

namespace SpaceBridge;

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

const VERSION = '0.1.0';

/* ---------------------------------------------------------------------------------------
 * 1. Post meta the bridge owns
 *
 * Every key starts with META_PREFIX. Values are single strings (an int as decimal digits,
 * JSON as text, times as ISO 8601 UTC); "" means unset. The bridge writes them over the
 * REST API or XML-RPC through section 4, which writes the meta alone (never saving the post).
 *
 * The leading underscore makes the keys "protected" (is_protected_meta(), wp-includes/meta.php):
 * they do not show in the editor's Custom Fields box, so an editor's stale form cannot
 * overwrite what the bridge wrote. Protected meta is refused over XML-RPC unless an
 * `auth_callback` allows it: map_meta_cap() (wp-includes/capabilities.php, 'edit_post_meta')
 * starts from ! is_protected_meta() and then applies the auth_post_meta_{$key}_for_post
 * filter that register_meta() installs for the callback. The user must in any case be able
 * to edit the post itself (map_meta_cap checks edit_post first).
 * ------------------------------------------------------------------------------------- */

const META_PREFIX = '_space_bridge_';

/**
 * The bridge's meta fields: name (without prefix) => description.
 *
 * @return array<string, string>
 */
function meta_fields() {
	return array(
		'topic_id'    => 'Id of the Discourse topic that mirrors this post.',
		'topic_url'   => 'Address of the Discourse topic that mirrors this post.',
		'reply_count' => 'Number of replies in that topic at the last sync (decimal digits).',
		'replies'     => 'Latest replies of that topic shown under the post (JSON text).',
		'synced_at'   => 'When the bridge last synced this post (ISO 8601, UTC).',
	);
}

/**
 * Post types whose posts the bridge mirrors. Filter `space_bridge_post_types` to add some.
 *
 * @return string[]
 */
function post_types() {
	return (array) apply_filters( 'space_bridge_post_types', array( 'post' ) );
}

/**
 * Whether the current user may read and write the bridge's meta of a post.
 *
 * Signature of an auth_{$object_type}_meta_{$meta_key}_for_{$subtype} filter.
 *
 * @param bool   $allowed   Result so far (false for protected keys).
 * @param string $meta_key  Meta key.
 * @param int    $object_id Post id.
 * @return bool
 */
function can_edit_meta( $allowed, $meta_key, $object_id ) {
	return current_user_can( 'edit_posts' );
}

function register_meta_keys() {
	foreach ( post_types() as $post_type ) {
		foreach ( meta_fields() as $name => $description ) {
			register_post_meta(
				$post_type,
				META_PREFIX . $name,
				array(
					'type'          => 'string',
					'description'   => $description,
					'single'        => true,
					'show_in_rest'  => true,
					'auth_callback' => __NAMESPACE__ . '\\can_edit_meta',
				)
			);
		}
	}
}
add_action( 'init', __NAMESPACE__ . '\\register_meta_keys' );

/* ---------------------------------------------------------------------------------------
 * 2. XML-RPC parity
 *
 * wp.getPost and wp.getPosts return the raw post_title/post_content/post_excerpt and report
 * scheduled ('future') posts as 'publish' (wp_xmlrpc_server::_prepare_post(),
 * wp-includes/class-wp-xmlrpc-server.php). The REST API returns rendered fields. To give the
 * bridge the same post over both APIs, add a `space_bridge` struct to each XML-RPC post with
 * the fields computed exactly as WP_REST_Posts_Controller::prepare_item_for_response() does
 * (wp-includes/rest-api/endpoints/class-wp-rest-posts-controller.php). Its presence also
 * tells the bridge that this plugin (and so its meta) is loaded.
 * ------------------------------------------------------------------------------------- */

/**
 * Title format for password-protected posts: the bare title, as the REST API uses.
 *
 * @return string
 */
function bare_title_format() {
	return '%s';
}

/**
 * Filter `xmlrpc_prepare_post`.
 *
 * @param array $_post  The post struct being returned.
 * @param array $post   The post, as an array (get_post( ..., ARRAY_A )).
 * @return array
 */
function xmlrpc_rendered_fields( $_post, $post ) {
	$wp_post = get_post( $post['ID'] );
	if ( ! $wp_post ) {
		return $_post;
	}

	$previous        = isset( $GLOBALS['post'] ) ? $GLOBALS['post'] : null;
	$GLOBALS['post'] = $wp_post;
	setup_postdata( $wp_post );

	add_filter( 'protected_title_format', __NAMESPACE__ . '\\bare_title_format' );
	$title = get_the_title( $wp_post->ID );
	remove_filter( 'protected_title_format', __NAMESPACE__ . '\\bare_title_format' );

	$locked = post_password_required( $wp_post );
	/** This filter is documented in wp-includes/post-template.php */
	$content = $locked ? '' : apply_filters( 'the_content', $wp_post->post_content );
	/** This filter is documented in wp-includes/post-template.php */
	$excerpt = apply_filters( 'get_the_excerpt', $wp_post->post_excerpt, $wp_post );
	/** This filter is documented in wp-includes/post-template.php */
	$excerpt = $locked ? '' : apply_filters( 'the_excerpt', $excerpt );

	$_post['space_bridge'] = array(
		'version' => VERSION,
		'status'  => $wp_post->post_status,
		'title'   => $title,
		'content' => $content,
		'excerpt' => $excerpt,
		// The author's linked Wikimedia account, computed here (space-bridge/sso.php).
		'author_external_id' => (string) \SpaceBridge\SSO\post_author_external_id( $wp_post ),
	);

	$GLOBALS['post'] = $previous;
	if ( $previous instanceof \WP_Post ) {
		setup_postdata( $previous );
	}

	return $_post;
}
add_filter( 'xmlrpc_prepare_post', __NAMESPACE__ . '\\xmlrpc_rendered_fields', 10, 2 );

/* ---------------------------------------------------------------------------------------
 * 4. Writing the bridge's meta without rewriting the post
 *
 * Writing meta through `POST /wp/v2/posts/<id>` or wp.editPost saves the whole post again:
 * WP_REST_Posts_Controller::update_item() and wp_xmlrpc_server::_insert_post() call
 * wp_update_post()/wp_insert_post(), which merge the request into the post as get_post() read
 * it earlier in the same request (wp-includes/post.php; the post is in the request's object
 * cache). An editor's change saved between that read and the write - unpublishing, moving to
 * the trash, making it private - is silently undone, and the post is public again. These two
 * entry points write the meta alone (update_post_meta, delete_post_meta) and never save the
 * post: its status, content and `modified` are left as they are.
 *
 *   POST /wp-json/space-bridge/v1/posts/<id>/meta  {"meta": {"_space_bridge_topic_id": "12", ...}}
 *   spaceBridge.setPostMeta( blog_id, username, password, post_id, { key: value, ... } )
 *
 * Only the keys of meta_fields() are written; null or "" deletes. The answer is the post as
 * GET /wp/v2/posts/<id> (or wp.getPost) gives it.
 * ------------------------------------------------------------------------------------- */

/**
 * Write the bridge's meta of a post, or explain why not.
 *
 * @param int   $post_id Post id.
 * @param mixed $meta    key => string|null.
 * @return true|\WP_Error
 */
function write_meta( $post_id, $meta ) {
	$post = get_post( $post_id );
	// Core's messages for these two refusals, in core's text domain (wp_xmlrpc_server's
	// wp_editPost() and wp_getPost(), wp-includes/class-wp-xmlrpc-server.php).
	if ( ! $post || ! in_array( $post->post_type, post_types(), true ) ) {
		return new \WP_Error( 'rest_post_invalid_id', __( 'Invalid post ID.', 'default' ), array( 'status' => 404 ) );
	}
	if ( ! current_user_can( 'edit_post', $post_id ) ) {
		return new \WP_Error( 'rest_cannot_edit', __( 'Sorry, you are not allowed to edit this post.', 'default' ), array( 'status' => 403 ) );
	}
	if ( ! is_array( $meta ) || ! $meta ) {
		return new \WP_Error( 'rest_invalid_param', 'meta must be an object of the bridge\'s keys', array( 'status' => 400 ) );
	}
	$known = array();
	foreach ( array_keys( meta_fields() ) as $name ) {
		$known[ META_PREFIX . $name ] = true;
	}
	foreach ( $meta as $key => $value ) {
		if ( ! isset( $known[ $key ] ) ) {
			return new \WP_Error( 'rest_invalid_param', 'not a meta key of the bridge: ' . sanitize_key( (string) $key ), array( 'status' => 400 ) );
		}
		if ( null !== $value && ! is_string( $value ) ) {
			return new \WP_Error( 'rest_invalid_param', $key . ' must be a string or null', array( 'status' => 400 ) );
		}
	}
	foreach ( $meta as $key => $value ) {
		if ( null === $value || '' === $value ) {
			delete_post_meta( $post_id, $key );
		} else {
			update_post_meta( $post_id, $key, wp_slash( $value ) );
		}
	}
	// What a post save would do for caches, without the save: the object cache, and the
	// `clean_post_cache` action page-cache plugins purge a post's pages on
	// (wp-includes/post.php clean_post_cache()), so the replies shown under it are fresh.
	clean_post_cache( $post_id );
	return true;
}

function rest_set_meta( \WP_REST_Request $request ) {
	$post_id = (int) $request['id'];
	$body    = $request->get_json_params();
	$written = write_meta( $post_id, is_array( $body ) && isset( $body['meta'] ) ? $body['meta'] : null );
	if ( is_wp_error( $written ) ) {
		return $written;
	}
	// The post as the posts route gives it (with the _embed the caller asked for).
	$read = new \WP_REST_Request( 'GET', '/wp/v2/posts/' . $post_id );
	$read->set_query_params( array( 'context' => 'edit' ) );
	$response = rest_do_request( $read );
	$embed    = $request->get_param( '_embed' );
	return rest_ensure_response( rest_get_server()->response_to_data( $response, null !== $embed ? rest_parse_embed_param( $embed ) : false ) );
}

function register_meta_route() {
	register_rest_route(
		'space-bridge/v1',
		'/posts/(?P<id>[\d]+)/meta',
		array(
			'methods'             => 'POST',
			'callback'            => __NAMESPACE__ . '\\rest_set_meta',
			'permission_callback' => function () {
				return is_user_logged_in();  // write_meta() checks edit_post on the post itself
			},
		)
	);
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_meta_route' );

/**
 * spaceBridge.setPostMeta( blog_id, username, password, post_id, meta ): login as the wp.*
 * methods do (wp_xmlrpc_server::login(): fault 403 for bad credentials).
 */
function xmlrpc_set_meta( $args ) {
	global $wp_xmlrpc_server;
	$args     = (array) $args;
	$username = isset( $args[1] ) ? (string) $args[1] : '';
	$password = isset( $args[2] ) ? (string) $args[2] : '';
	$post_id  = isset( $args[3] ) ? (int) $args[3] : 0;
	$meta     = isset( $args[4] ) ? $args[4] : null;
	if ( ! $wp_xmlrpc_server->login( $username, $password ) ) {
		return $wp_xmlrpc_server->error;
	}
	$written = write_meta( $post_id, $meta );
	if ( is_wp_error( $written ) ) {
		$status = (int) ( $written->get_error_data()['status'] ?? 400 );
		return new \IXR_Error( 404 === $status ? 404 : ( 403 === $status ? 401 : 400 ), $written->get_error_message() );
	}
	return $wp_xmlrpc_server->wp_getPost( array( 1, $username, $password, $post_id ) );
}

function xmlrpc_meta_method( $methods ) {
	$methods['spaceBridge.setPostMeta'] = __NAMESPACE__ . '\\xmlrpc_set_meta';
	return $methods;
}
add_filter( 'xmlrpc_methods', __NAMESPACE__ . '\\xmlrpc_meta_method' );

/* ---------------------------------------------------------------------------------------
 * 3. Wikimedia login (SSO), single log-out, demotion: space-bridge/sso.php
 *
 * This file is linked (not copied) into mu-plugins, so the folder is found beside the real file.
 * ------------------------------------------------------------------------------------- */

require_once dirname( realpath( __FILE__ ) ) . '/space-bridge/sso.php';
