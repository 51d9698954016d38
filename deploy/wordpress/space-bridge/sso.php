<?php
/**
 * Space Bridge: log in with the Wikimedia account through the bridge (DiscourseConnect client),
 * single log-out and demotion over signed REST routes. Required by ../space-bridge.php.
 *
 * Configuration: WordPress constants (wp-config.php, or /etc/wordpress/config-<host>.php):
 *
 *   SPACE_BRIDGE_SSO_URL      The bridge's DiscourseConnect endpoint for this site,
 *                             e.g. https://bridge.example/sso/wordpress/blog. Unset: SSO is off
 *                             (no button, the REST routes answer 503).
 *   SPACE_BRIDGE_SSO_SECRET   The shared secret (the bridge's wordpress.sites[].connect_secret),
 *                             at least 12 characters. Signs the handshake and the REST calls.
 *   SPACE_BRIDGE_ROLES        Optional JSON object: payload group => WordPress role, in order of
 *                             precedence (the first group the member has wins), e.g.
 *                             {"space-editors":"editor","space-authors":"author"}. Unset: a group
 *                             that is itself a WordPress role name is taken as that role.
 *   SPACE_BRIDGE_DEFAULT_ROLE Optional: role of a member no group maps (default "subscriber").
 *   SPACE_BRIDGE_LOGOUT_URL   Optional: the bridge's /logout. WordPress's own "Log out" of a
 *                             bridge member then continues there (?next=this site), so the member
 *                             is logged out of the bridge and the forum too.
 *   SPACE_BRIDGE_SSO_ONLY     Optional, true: wp-login.php goes straight to the bridge unless
 *                             ?space_bridge=local (the password form stays for local accounts).
 *
 * The handshake is DiscourseConnect with WordPress as the client, as wp-discourse's SSO client
 * does it (github.com/discourse/wp-discourse lib/sso-client/client.php + nonce.php): a nonce
 * stored server-side and deleted when used, `sso` = base64(urlencoded nonce + return_sso_url),
 * `sig` = hex HMAC-SHA256(secret, sso); on return the same signature over the returned `sso`,
 * then the nonce, then the user found by meta. Differences, on purpose:
 *
 *   - signatures are compared with hash_equals (wp-discourse uses ===);
 *   - the nonce is a transient deleted on use whose deletion must succeed (one winner under
 *     concurrency), and it is bound to the browser that started the login by a cookie
 *     (HttpOnly, SameSite=Lax) whose hash the transient keeps: a payload carried to another
 *     browser is refused;
 *   - users are found by external_id only (meta space_bridge_external_id). wp-discourse's
 *     "sync by email" is not offered: an existing account with the same email and no
 *     external_id is NOT taken over; the login is refused with a message (WordPress needs
 *     unique emails, so a second account cannot be created either). An administrator links
 *     such an account by setting its space_bridge_external_id meta (wp user meta update).
 *   - the page to return to is kept server-side with the nonce (never taken from the
 *     payload) and allow-listed with wp_validate_redirect.
 *
 * Roles: set on each login from the payload's `custom.role` (the bridge maps wiki groups with
 * wordpress.sites[].roles, default subscriber) or, without it, from `groups` through
 * SPACE_BRIDGE_ROLES. An administrator is never lowered by a
 * login, and "administrator" is never granted through SSO (a mapping to it is ignored): the
 * site's administrators are managed in WordPress. The demotion route (a locked member) does
 * apply to administrators linked to a Wikimedia account.
 *
 * REST routes (namespace space-bridge/v1), signed by the bridge (see verify_signed_request:
 * method, route, query and body signed, a single-use nonce, parameters from the JSON body only):
 *   POST /logout {"external_id"}            destroys every session of that user
 *   POST /demote {"external_id","role"?}    role "" (none, the default) or the given role,
 *                                           and destroys every session
 *
 * The mirror learns whether a post's author is linked to a member from a field computed here
 * (post_author_external_id: REST `space_bridge_author_external_id`, XML-RPC
 * `space_bridge.author_external_id`), never from a name the author can choose.
 */

namespace SpaceBridge\SSO;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const META_EXTERNAL_ID = 'space_bridge_external_id';
const NONCE_TTL        = 600;
const COOKIE           = 'space_bridge_sso';
const ACTION_START     = 'space-bridge-login';
const ACTION_RETURN    = 'space-bridge-sso';
const REST_NAMESPACE   = 'space-bridge/v1';
const REST_WINDOW      = 300;
const REST_CONTEXT     = 'space-bridge-rest-v2';

function enabled() {
	return defined( 'SPACE_BRIDGE_SSO_URL' ) && SPACE_BRIDGE_SSO_URL
		&& defined( 'SPACE_BRIDGE_SSO_SECRET' ) && strlen( (string) SPACE_BRIDGE_SSO_SECRET ) >= 12;
}

function secret() {
	return (string) SPACE_BRIDGE_SSO_SECRET;
}

function sign( $payload ) {
	return hash_hmac( 'sha256', $payload, secret() );
}

/* -- the handshake ----------------------------------------------------------------------- */

function return_url() {
	return add_query_arg( 'action', ACTION_RETURN, wp_login_url() );
}

function start_url( $redirect_to = '' ) {
	$args = array( 'action' => ACTION_START );
	if ( $redirect_to ) {
		$args['redirect_to'] = rawurlencode( $redirect_to );
	}
	return add_query_arg( $args, wp_login_url() );
}

/** A page of this site (wp_validate_redirect's allow-list) to return to; the dashboard by default. */
function safe_redirect_to( $url ) {
	$url = is_string( $url ) ? trim( $url ) : '';
	return '' === $url ? admin_url() : wp_validate_redirect( $url, admin_url() );
}

/** login_form_space-bridge-login: store a nonce and send the browser to the bridge. */
function start() {
	if ( ! enabled() ) {
		fail( 'disabled' );
	}
	$redirect_to = isset( $_GET['redirect_to'] ) ? wp_unslash( $_GET['redirect_to'] ) : ''; // phpcs:ignore
	$redirect_to = safe_redirect_to( $redirect_to );

	$nonce   = bin2hex( random_bytes( 16 ) );
	$browser = bin2hex( random_bytes( 16 ) );
	set_transient(
		'space_bridge_sso_' . $nonce,
		array(
			'browser'     => hash( 'sha256', $browser ),
			'redirect_to' => $redirect_to,
		),
		NONCE_TTL
	);
	setcookie(
		COOKIE,
		$browser,
		array(
			'expires'  => time() + NONCE_TTL,
			'path'     => COOKIEPATH ? COOKIEPATH : '/',
			'domain'   => COOKIE_DOMAIN,
			'secure'   => is_ssl(),
			'httponly' => true,
			'samesite' => 'Lax',
		)
	);
	$sso = base64_encode( http_build_query( array( 'nonce' => $nonce, 'return_sso_url' => return_url() ), '', '&' ) );
	$url = add_query_arg(
		array(
			'sso' => rawurlencode( $sso ),
			'sig' => sign( $sso ),
		),
		SPACE_BRIDGE_SSO_URL
	);
	nocache_headers();
	wp_redirect( $url ); // phpcs:ignore -- the bridge is another host, on purpose
	exit;
}

/** login_form_space-bridge-sso: verify the bridge's answer and log the member in. */
function finish() {
	nocache_headers();
	if ( ! enabled() ) {
		fail( 'disabled' );
	}
	$sso = isset( $_GET['sso'] ) && is_string( $_GET['sso'] ) ? wp_unslash( $_GET['sso'] ) : ''; // phpcs:ignore
	$sig = isset( $_GET['sig'] ) && is_string( $_GET['sig'] ) ? wp_unslash( $_GET['sig'] ) : ''; // phpcs:ignore
	if ( '' === $sso || '' === $sig || ! hash_equals( sign( $sso ), strtolower( $sig ) ) ) {
		fail( 'signature' );
	}
	$raw = base64_decode( $sso, true );
	if ( false === $raw ) {
		fail( 'payload' );
	}
	$payload = parse_payload( $raw );
	$nonce = isset( $payload['nonce'] ) && is_string( $payload['nonce'] ) ? $payload['nonce'] : '';
	if ( ! preg_match( '/^[0-9a-f]{32}$/', $nonce ) ) {
		fail( 'nonce' );
	}
	$key    = 'space_bridge_sso_' . $nonce;
	$stored = get_transient( $key );
	// Single use: whoever deletes the row wins; a replay (or a concurrent twin) finds nothing.
	if ( ! is_array( $stored ) || ! delete_transient( $key ) ) {
		fail( 'nonce' );
	}
	$browser = isset( $_COOKIE[ COOKIE ] ) && is_string( $_COOKIE[ COOKIE ] ) ? $_COOKIE[ COOKIE ] : '';
	if ( '' === $browser || ! hash_equals( $stored['browser'], hash( 'sha256', $browser ) ) ) {
		fail( 'browser' );
	}
	setcookie( COOKIE, '', time() - 3600, COOKIEPATH ? COOKIEPATH : '/', COOKIE_DOMAIN );

	foreach ( array( 'external_id', 'email' ) as $field ) {
		if ( empty( $payload[ $field ] ) || ! is_string( $payload[ $field ] ) ) {
			fail( 'payload' );
		}
	}
	$user = upsert_user( $payload );
	if ( is_wp_error( $user ) ) {
		fail( $user->get_error_code() );
	}
	apply_roles( $user, $payload );

	wp_set_current_user( $user->ID );
	wp_set_auth_cookie( $user->ID, false, is_ssl() );
	do_action( 'wp_login', $user->user_login, $user );

	wp_safe_redirect( safe_redirect_to( $stored['redirect_to'] ) );
	exit;
}

/**
 * The fields of a form-encoded payload, names kept as they are (parse_str would turn the
 * "custom.role" of DiscourseConnect's custom fields into "custom_role"); the last of a repeated
 * name wins.
 *
 * @return array<string, string>
 */
function parse_payload( $raw ) {
	$fields = array();
	foreach ( explode( '&', (string) $raw ) as $pair ) {
		if ( '' === $pair ) {
			continue;
		}
		$kv                             = explode( '=', $pair, 2 );
		$fields[ urldecode( $kv[0] ) ] = isset( $kv[1] ) ? urldecode( $kv[1] ) : '';
	}
	return $fields;
}

/**
 * The user linked to this external_id, created or updated from the payload.
 *
 * @return \WP_User|\WP_Error
 */
function upsert_user( array $payload ) {
	$external_id = (string) $payload['external_id'];
	$email       = sanitize_email( (string) $payload['email'] );
	if ( ! is_email( $email ) ) {
		return new \WP_Error( 'payload' );
	}
	$name = isset( $payload['name'] ) && is_string( $payload['name'] ) ? sanitize_text_field( $payload['name'] ) : '';
	// require_activation: the member's Wikimedia address is not confirmed (the bridge lets such
	// members in when its policy does not require a confirmed address). Discourse then confirms
	// the address by mail; WordPress has no such step, so the blog never takes an unconfirmed
	// address: a new account has none (wp_insert_user accepts an empty user_email) and an
	// existing account keeps the one it has until a login brings a confirmed one.
	$unconfirmed = isset( $payload['require_activation'] ) && 'true' === $payload['require_activation'];

	$user = find_user( $external_id );
	if ( $user ) {
		$update = array( 'ID' => $user->ID );
		if ( ! $unconfirmed && strtolower( $user->user_email ) !== strtolower( $email ) ) {
			$other = get_user_by( 'email', $email );
			if ( ! $other ) {
				$update['user_email'] = $email;
			} // else keep the old address: never take another account's email
		}
		if ( '' !== $name ) {
			$update['display_name'] = $name;
		}
		if ( count( $update ) > 1 ) {
			$result = wp_update_user( $update );
			if ( is_wp_error( $result ) ) {
				return new \WP_Error( 'update_failed' );
			}
		}
		return get_user_by( 'id', $user->ID );
	}

	if ( $unconfirmed ) {
		$email = '';
	} elseif ( get_user_by( 'email', $email ) ) {
		// Never take over an account by its email: it may not be this member's.
		return new \WP_Error( 'email_taken' );
	}
	$login = sanitize_user( isset( $payload['username'] ) && is_string( $payload['username'] ) ? $payload['username'] : '', true );
	if ( '' === $login ) {
		$login = 'member';
	}
	$base = substr( $login, 0, 50 );
	for ( $i = 2; username_exists( $login ); $i++ ) {
		$login = $base . '-' . $i;
	}
	$id = wp_insert_user(
		array(
			'user_login'   => $login,
			'user_pass'    => wp_generate_password( 32, true, true ),
			'user_email'   => $email,
			'display_name' => '' !== $name ? $name : $login,
			'nickname'     => $login,
			'role'         => '',
		)
	);
	if ( is_wp_error( $id ) ) {
		return new \WP_Error( 'create_failed' );
	}
	update_user_meta( $id, META_EXTERNAL_ID, $external_id );
	return get_user_by( 'id', $id );
}

/** @return \WP_User|null */
function find_user( $external_id ) {
	$users = get_users(
		array(
			'meta_key'   => META_EXTERNAL_ID, // phpcs:ignore
			'meta_value' => (string) $external_id, // phpcs:ignore
			'number'     => 2,
			'blog_id'    => 0,
		)
	);
	return 1 === count( $users ) ? $users[0] : null;
}

/** The role the payload's comma-separated groups give. */
function role_for_groups( $groups ) {
	$groups  = array_filter( array_map( 'trim', explode( ',', (string) $groups ) ), 'strlen' );
	$default = defined( 'SPACE_BRIDGE_DEFAULT_ROLE' ) ? (string) SPACE_BRIDGE_DEFAULT_ROLE : 'subscriber';
	$map     = null;
	if ( defined( 'SPACE_BRIDGE_ROLES' ) ) {
		$map = is_array( SPACE_BRIDGE_ROLES ) ? SPACE_BRIDGE_ROLES : json_decode( (string) SPACE_BRIDGE_ROLES, true );
	}
	$candidates = array();
	if ( is_array( $map ) ) {
		foreach ( $map as $group => $role ) {
			if ( in_array( (string) $group, $groups, true ) ) {
				$candidates[] = (string) $role;
			}
		}
	} else {
		$candidates = $groups;
	}
	foreach ( $candidates as $role ) {
		if ( 'administrator' !== $role && wp_roles()->is_role( $role ) ) {
			return $role;
		}
	}
	return wp_roles()->is_role( $default ) && 'administrator' !== $default ? $default : 'subscriber';
}

/**
 * The member's role: the bridge's own mapping (`custom.role`, from wordpress.sites[].roles) when
 * the answer has one, else the payload's `groups` through SPACE_BRIDGE_ROLES. Never administrator.
 */
function role_for_payload( array $payload ) {
	$role = isset( $payload['custom.role'] ) ? (string) $payload['custom.role'] : '';
	if ( '' !== $role && 'administrator' !== $role && wp_roles()->is_role( $role ) ) {
		return $role;
	}
	return role_for_groups( isset( $payload['groups'] ) ? (string) $payload['groups'] : '' );
}

function apply_roles( \WP_User $user, array $payload ) {
	if ( in_array( 'administrator', (array) $user->roles, true ) ) {
		return; // never lowered by a login
	}
	$role = role_for_payload( $payload );
	if ( array( $role ) !== array_values( (array) $user->roles ) ) {
		$user->set_role( $role );
	}
}

/* -- the author's Wikimedia account, for the bridge's mirror ---------------------------------- */

/**
 * The mirror posts a blog post's forum topic as its author only when the author's WordPress
 * account is linked to a member: the external_id that a DiscourseConnect login stored (or an
 * administrator set). It learns that id from here, computed on the server from the author's
 * user meta, so nothing an author can edit (display name, nickname, post fields, their own
 * profile) changes it:
 *
 *   - REST: the read-only post field `space_bridge_author_external_id` (no update callback, so a
 *     value sent with a post is dropped);
 *   - XML-RPC: `author_external_id` in the `space_bridge` struct of wp.getPost(s) (../space-bridge.php).
 *
 * Only users who may edit the post (the bridge's editor account, the author) see it; others get
 * null. An id that more than one user carries (a mistaken manual link) is withheld: it names no
 * one for certain.
 *
 * The user meta itself is registered with an auth_callback that refuses everyone and without
 * show_in_rest, so no REST request, and no code that checks the edit_user_meta capability,
 * lets a user write it; only this plugin's login and a site administrator's `wp user meta` do.
 */
function post_author_external_id( $post ) {
	$post = get_post( $post );
	if ( ! $post || ! current_user_can( 'edit_post', $post->ID ) ) {
		return null;
	}
	$external_id = get_user_meta( (int) $post->post_author, META_EXTERNAL_ID, true );
	if ( ! is_string( $external_id ) || '' === $external_id ) {
		return null;
	}
	$user = find_user( $external_id );
	return $user && (int) $user->ID === (int) $post->post_author ? $external_id : null;
}

function rest_author_external_id( $data ) {
	return post_author_external_id( isset( $data['id'] ) ? (int) $data['id'] : 0 );
}

function register_user_meta() {
	register_meta(
		'user',
		META_EXTERNAL_ID,
		array(
			'type'          => 'string',
			'single'        => true,
			'show_in_rest'  => false,
			'auth_callback' => '__return_false',
		)
	);
}
add_action( 'init', __NAMESPACE__ . '\\register_user_meta' );

function register_author_field() {
	$post_types = function_exists( '\\SpaceBridge\\post_types' ) ? \SpaceBridge\post_types() : array( 'post' );
	foreach ( $post_types as $post_type ) {
		register_rest_field(
			$post_type,
			'space_bridge_author_external_id',
			array(
				'get_callback' => __NAMESPACE__ . '\\rest_author_external_id',
				'schema'       => array(
					'description' => 'The Wikimedia account (DiscourseConnect external_id) linked to the author; null when none or not visible to you.',
					'type'        => array( 'string', 'null' ),
					'context'     => array( 'view', 'edit' ),
					'readonly'    => true,
				),
			)
		);
	}
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_author_field' );

/* -- errors on wp-login.php ---------------------------------------------------------------- */

function messages() {
	return array(
		'disabled'      => __( 'Logging in with a Wikimedia account is not configured on this site.', 'space-bridge' ),
		'signature'     => __( 'The answer of the Wikimedia login could not be verified. Please try again.', 'space-bridge' ),
		'payload'       => __( 'The answer of the Wikimedia login was incomplete. Please try again.', 'space-bridge' ),
		'nonce'         => __( 'This Wikimedia login link has expired or was already used. Please log in again.', 'space-bridge' ),
		'browser'       => __( 'This Wikimedia login was started in another browser. Please log in again here.', 'space-bridge' ),
		'email_taken'   => __( 'An account with the email address of your Wikimedia account already exists on this site, but it is not linked to a Wikimedia account. For your safety it was not taken over: log in with its password, or ask an administrator to link it.', 'space-bridge' ),
		'create_failed' => __( 'Your account could not be created on this site. Please contact an administrator.', 'space-bridge' ),
		'update_failed' => __( 'Your account could not be updated on this site. Please contact an administrator.', 'space-bridge' ),
	);
}

function fail( $code ) {
	$codes = messages();
	if ( ! isset( $codes[ $code ] ) ) {
		$code = 'payload';
	}
	wp_safe_redirect( add_query_arg( 'space_bridge_error', $code, wp_login_url() ) );
	exit;
}

/** Filter wp_login_errors. */
function login_errors( $errors ) {
	$code = isset( $_GET['space_bridge_error'] ) && is_string( $_GET['space_bridge_error'] ) ? sanitize_key( $_GET['space_bridge_error'] ) : ''; // phpcs:ignore
	$msgs = messages();
	if ( '' !== $code && isset( $msgs[ $code ] ) && $errors instanceof \WP_Error ) {
		$errors->add( 'space_bridge_' . $code, esc_html( $msgs[ $code ] ) );
	}
	return $errors;
}

/** Action login_form: the button. */
function login_button() {
	if ( ! enabled() ) {
		return;
	}
	$redirect_to = isset( $_REQUEST['redirect_to'] ) && is_string( $_REQUEST['redirect_to'] ) ? wp_unslash( $_REQUEST['redirect_to'] ) : ''; // phpcs:ignore
	printf(
		'<p class="space-bridge-sso" style="margin-bottom:16px"><a id="space-bridge-login" class="button button-primary button-large" style="width:100%%;text-align:center" href="%s">%s</a></p><p style="text-align:center;margin-bottom:16px">%s</p>',
		esc_url( start_url( $redirect_to ) ),
		esc_html__( 'Log in with your Wikimedia account', 'space-bridge' ),
		esc_html__( 'or with a password of this site:', 'space-bridge' )
	);
}

/** Action login_init: with SPACE_BRIDGE_SSO_ONLY, the plain login page goes to the bridge. */
function maybe_sso_only() {
	if ( ! enabled() || ! defined( 'SPACE_BRIDGE_SSO_ONLY' ) || ! SPACE_BRIDGE_SSO_ONLY ) {
		return;
	}
	$action = isset( $_REQUEST['action'] ) ? $_REQUEST['action'] : 'login'; // phpcs:ignore
	if ( 'login' === $action && 'GET' === $_SERVER['REQUEST_METHOD'] && empty( $_GET['space_bridge'] ) && empty( $_GET['space_bridge_error'] ) && empty( $_GET['loggedout'] ) ) { // phpcs:ignore
		$redirect_to = isset( $_GET['redirect_to'] ) && is_string( $_GET['redirect_to'] ) ? wp_unslash( $_GET['redirect_to'] ) : ''; // phpcs:ignore
		wp_safe_redirect( start_url( $redirect_to ) );
		exit;
	}
}

/** Filter logout_redirect: a bridge member's log-out continues at the bridge's /logout. */
function logout_redirect( $redirect_to, $requested, $user ) {
	if ( ! enabled() || ! defined( 'SPACE_BRIDGE_LOGOUT_URL' ) || ! SPACE_BRIDGE_LOGOUT_URL ) {
		return $redirect_to;
	}
	if ( ! ( $user instanceof \WP_User ) || ! get_user_meta( $user->ID, META_EXTERNAL_ID, true ) ) {
		return $redirect_to;
	}
	$next = wp_validate_redirect( $redirect_to ? $redirect_to : home_url( '/' ), home_url( '/' ) );
	return add_query_arg( 'next', rawurlencode( $next ), SPACE_BRIDGE_LOGOUT_URL );
}

/** Filter allowed_redirect_hosts: the bridge's host, for the log-out redirect. */
function allowed_hosts( $hosts ) {
	if ( defined( 'SPACE_BRIDGE_LOGOUT_URL' ) && SPACE_BRIDGE_LOGOUT_URL ) {
		$host = wp_parse_url( SPACE_BRIDGE_LOGOUT_URL, PHP_URL_HOST );
		if ( $host ) {
			$hosts[] = $host;
		}
	}
	return $hosts;
}

add_action( 'login_form_' . ACTION_START, __NAMESPACE__ . '\\start' );
add_action( 'login_form_' . ACTION_RETURN, __NAMESPACE__ . '\\finish' );
add_action( 'login_form', __NAMESPACE__ . '\\login_button' );
add_action( 'login_init', __NAMESPACE__ . '\\maybe_sso_only' );
add_filter( 'wp_login_errors', __NAMESPACE__ . '\\login_errors' );
add_filter( 'logout_redirect', __NAMESPACE__ . '\\logout_redirect', 10, 3 );
add_filter( 'allowed_redirect_hosts', __NAMESPACE__ . '\\allowed_hosts' );

/* -- signed REST routes for the bridge ------------------------------------------------------ */

/**
 * Headers X-Space-Bridge-Timestamp (Unix seconds), X-Space-Bridge-Nonce (16 to 64 characters of
 * [A-Za-z0-9_-], new for every request) and X-Space-Bridge-Signature: hex HMAC-SHA256 with
 * SPACE_BRIDGE_SSO_SECRET of
 *
 *   "space-bridge-rest-v2\n{timestamp}\n{nonce}\n{METHOD}\n{target}\n{raw body}"
 *
 * where target is the REST route followed by "?" and the request's query string exactly as sent
 * when there is one (a `rest_route` pair, the other way of naming the route, left out). The route
 * is what WordPress dispatches on, the same through /wp-json/ and ?rest_route=; a signature for
 * one route, method, query or body is worth nothing for another.
 *
 * The timestamp must be within REST_WINDOW seconds of now. The nonce is used once: it is
 * recorded by a single INSERT that the options table's unique option_name refuses a second time,
 * so of two requests racing with the same nonce exactly one gets in (no read-then-write).
 * Records older than twice the window are deleted as new ones come in.
 *
 * The routes read their parameters from the signed JSON body only (get_json_params(), never
 * get_param(), which would also take unsigned query and form fields).
 *
 * @return true|\WP_Error
 */
function verify_signed_request( \WP_REST_Request $request ) {
	if ( ! enabled() ) {
		return new \WP_Error( 'space_bridge_disabled', 'Space bridge SSO is not configured.', array( 'status' => 503 ) );
	}
	$ts    = (string) $request->get_header( 'x_space_bridge_timestamp' );
	$nonce = (string) $request->get_header( 'x_space_bridge_nonce' );
	$sig   = strtolower( (string) $request->get_header( 'x_space_bridge_signature' ) );
	if ( ! preg_match( '/^[0-9]{1,12}$/D', $ts ) || abs( time() - (int) $ts ) > REST_WINDOW ) {
		return new \WP_Error( 'space_bridge_stale', 'Missing or stale X-Space-Bridge-Timestamp.', array( 'status' => 401 ) );
	}
	if ( ! preg_match( '/^[A-Za-z0-9_-]{16,64}$/D', $nonce ) ) {
		return new \WP_Error( 'space_bridge_nonce', 'Missing or malformed X-Space-Bridge-Nonce.', array( 'status' => 401 ) );
	}
	$message  = REST_CONTEXT . "\n" . $ts . "\n" . $nonce . "\n" . strtoupper( $request->get_method() ) . "\n"
		. signed_target( $request ) . "\n" . $request->get_body();
	$expected = hash_hmac( 'sha256', $message, secret() );
	if ( '' === $sig || ! hash_equals( $expected, $sig ) ) {
		return new \WP_Error( 'space_bridge_signature', 'Bad signature.', array( 'status' => 401 ) );
	}
	if ( ! claim_nonce( $nonce ) ) {
		return new \WP_Error( 'space_bridge_replay', 'Request already seen.', array( 'status' => 401 ) );
	}
	return true;
}

/** The route and, when there is one, "?" and the query string as sent (without rest_route). */
function signed_target( \WP_REST_Request $request ) {
	$query = isset( $_SERVER['QUERY_STRING'] ) && is_string( $_SERVER['QUERY_STRING'] ) ? $_SERVER['QUERY_STRING'] : ''; // phpcs:ignore
	$pairs = array();
	foreach ( explode( '&', $query ) as $pair ) {
		$name = urldecode( explode( '=', $pair, 2 )[0] );
		if ( '' !== $pair && 'rest_route' !== $name ) {
			$pairs[] = $pair;
		}
	}
	return $request->get_route() . ( $pairs ? '?' . implode( '&', $pairs ) : '' );
}

/**
 * Record a nonce; false when it was recorded before. One INSERT IGNORE into the options table,
 * whose option_name is a unique key: MariaDB inserts the row for exactly one of any number of
 * concurrent requests (add_option() would not do: it reads first, and its INSERT ... ON
 * DUPLICATE KEY UPDATE succeeds again for a changed value, wp-includes/option.php).
 */
function claim_nonce( $nonce ) {
	global $wpdb;
	$prefix = 'space_bridge_rest_nonce_';
	$now    = time();
	$wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->prepare(
			"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s AND CAST(option_value AS UNSIGNED) < %d",
			$wpdb->esc_like( $prefix ) . '%',
			$now
		)
	);
	$inserted = $wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$wpdb->prepare(
			"INSERT IGNORE INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')",
			$prefix . hash( 'sha256', $nonce ),
			(string) ( $now + 2 * REST_WINDOW )
		)
	);
	return 1 === $inserted;
}

/** The signed JSON body's fields, or a WP_Error when the body is not a JSON object. */
function signed_fields( \WP_REST_Request $request ) {
	$fields = $request->get_json_params();
	if ( ! is_array( $fields ) || ( $fields && array_keys( $fields ) === range( 0, count( $fields ) - 1 ) ) ) {
		return new \WP_Error( 'space_bridge_body', 'The body must be a JSON object (Content-Type: application/json).', array( 'status' => 400 ) );
	}
	return $fields;
}

/** @return \WP_User|null|\WP_Error */
function rest_user( array $fields ) {
	$external_id = isset( $fields['external_id'] ) ? $fields['external_id'] : null;
	if ( ! is_string( $external_id ) || '' === $external_id ) {
		return new \WP_Error( 'space_bridge_external_id', 'external_id (a non-empty string) is required.', array( 'status' => 400 ) );
	}
	return find_user( $external_id );
}

function rest_logout( \WP_REST_Request $request ) {
	$fields = signed_fields( $request );
	$user   = is_wp_error( $fields ) ? $fields : rest_user( $fields );
	if ( is_wp_error( $user ) ) {
		return $user;
	}
	if ( ! $user ) {
		return array( 'found' => false );
	}
	\WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
	return array( 'found' => true, 'user_id' => $user->ID );
}

function rest_demote( \WP_REST_Request $request ) {
	$fields = signed_fields( $request );
	$user   = is_wp_error( $fields ) ? $fields : rest_user( $fields );
	if ( is_wp_error( $user ) ) {
		return $user;
	}
	if ( ! $user ) {
		return array( 'found' => false );
	}
	$role = isset( $fields['role'] ) ? $fields['role'] : '';
	if ( ! is_string( $role ) || ( '' !== $role && ( 'administrator' === $role || ! wp_roles()->is_role( $role ) ) ) ) {
		return new \WP_Error( 'space_bridge_role', 'Unknown role.', array( 'status' => 400 ) );
	}
	$user->set_role( $role );
	\WP_Session_Tokens::get_instance( $user->ID )->destroy_all();
	return array( 'found' => true, 'user_id' => $user->ID, 'roles' => array_values( get_userdata( $user->ID )->roles ) );
}

function register_routes() {
	foreach ( array( 'logout' => 'rest_logout', 'demote' => 'rest_demote' ) as $route => $callback ) {
		register_rest_route(
			REST_NAMESPACE,
			'/' . $route,
			array(
				'methods'             => 'POST',
				'callback'            => __NAMESPACE__ . '\\' . $callback,
				'permission_callback' => __NAMESPACE__ . '\\verify_signed_request',
			)
		);
	}
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_routes' );
