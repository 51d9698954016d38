<?php
/**
 * Plugin Name: Space Bridge views
 * Description: A privacy-preserving view counter for the blog's posts (a daily count per post, nothing about the reader), read by space-bridge for its search.
 * Version:     0.1.0
 * Author:      Wikimedia Space maintainers
 * License:     GPL-3.0-or-later
 *
 * A must-use plugin beside space-bridge.php. What it keeps, in the table
 * {$wpdb->prefix}space_bridge_views: (post id, day in UTC, number of views). Nothing else:
 * no IP address, no user id, no user agent, no referrer, no cookie, no session. A view is
 * counted by one atomic `INSERT ... ON DUPLICATE KEY UPDATE views = views + 1` when a reader
 * opens a published, public post on the front end; previews, feeds, REST and XML-RPC,
 * HEAD requests, browser prefetches, obvious robots (a short user-agent check; the agent is
 * never stored) and logged-in users who may edit the post are not counted. Pages served from a
 * full-page cache in front of WordPress are not counted either (no script, no beacon).
 *
 * Days older than SPACE_BRIDGE_VIEWS_RETENTION_DAYS (default 400) are deleted by a daily
 * wp-cron event, and a deleted post's rows with it.
 *
 * The bridge reads the totals per post with its own account (an editor: the
 * `edit_others_posts` capability) over
 *   REST:    GET /wp-json/space-bridge/v1/views?since=YYYY-MM-DD&page=1&per_page=100
 *   XML-RPC: spaceBridge.getPostViews(blog_id, username, password, {since, page, per_page})
 * Both answer { since, page, per_page, pages, total, retention_days,
 *               views: [ { post_id, views }, ... ] } ordered by post id, `views` being the sum
 * over the days from `since` (inclusive; all kept days without it: `since` is then null over
 * REST, "" over XML-RPC, which has no null). The Python side is
 * WordPressClient.post_views() (bridge/clients/wordpress/client.py).
 */

namespace SpaceBridge\Views;

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

const DB_VERSION        = '1';
const DB_VERSION_OPTION = 'space_bridge_views_db_version';
const PRUNE_HOOK        = 'space_bridge_views_prune';
const DEFAULT_RETENTION = 400;
const MAX_PER_PAGE      = 500;
const CAPABILITY        = 'edit_others_posts';

/* ---------------------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------------------- */

function table() {
	global $wpdb;
	return $wpdb->prefix . 'space_bridge_views';
}

/**
 * Creates or updates the table when its version option is not the current one (first use).
 * dbDelta() (wp-admin/includes/upgrade.php) wants two spaces after PRIMARY KEY and one
 * field per line.
 */
function ensure_table() {
	if ( get_option( DB_VERSION_OPTION ) === DB_VERSION ) {
		return;
	}
	global $wpdb;
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$table = table();
	dbDelta(
		"CREATE TABLE {$table} (
  post_id bigint(20) unsigned NOT NULL,
  day date NOT NULL,
  views bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (post_id,day),
  KEY day (day)
) {$wpdb->get_charset_collate()};"
	);
	// Only once the table is there: a failed CREATE (no privilege) is tried again next time.
	if ( $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table ) {
		update_option( DB_VERSION_OPTION, DB_VERSION, true );
	}
}

function retention_days() {
	$days = defined( 'SPACE_BRIDGE_VIEWS_RETENTION_DAYS' ) ? (int) SPACE_BRIDGE_VIEWS_RETENTION_DAYS : DEFAULT_RETENTION;
	return max( 1, min( 36600, $days ) );
}

function post_types() {
	return (array) apply_filters( 'space_bridge_post_types', array( 'post' ) );
}

/* ---------------------------------------------------------------------------------------
 * Counting
 * ------------------------------------------------------------------------------------- */

/**
 * Whether the user agent is obviously a robot or a program. Read, never stored.
 *
 * @param string $agent The User-Agent header ('' when absent).
 * @return bool
 */
function is_robot( $agent ) {
	if ( '' === trim( $agent ) ) {
		return true;
	}
	return (bool) preg_match(
		'/bot\b|bot\/|crawl|spider|slurp|archiver|facebookexternalhit|embedly|preview|headless|lighthouse|monitor|uptime|pingdom|curl\/|wget|python-|httpclient|okhttp|go-http-client|java\/|libwww|scrapy|feedfetcher|wordpress\//i',
		$agent
	);
}

/**
 * Whether this request is a reader's view of a published, public post.
 *
 * Runs on template_redirect (wp-includes/template-loader.php runs it before the theme's
 * template; the HEAD exit, `exit_on_http_head`, comes only after it, so HEAD is checked here).
 * Priority 50: redirect_canonical() and wp_old_slug_redirect() (priority 10,
 * wp-includes/default-filters.php) have redirected and exited by then, so a redirected
 * address is counted once, on the address it lands on.
 *
 * @return \WP_Post|null The post to count, or null.
 */
function countable_post() {
	$method = isset( $_SERVER['REQUEST_METHOD'] ) ? strtoupper( (string) $_SERVER['REQUEST_METHOD'] ) : 'GET';
	if ( 'GET' !== $method ) {
		return null; // HEAD (and POSTs of a password form, comment forms...) are not views.
	}
	if ( is_admin() || is_feed() || is_preview() || is_embed() || is_trackback() || is_robots()
		|| wp_doing_ajax() || wp_doing_cron() || ( defined( 'REST_REQUEST' ) && REST_REQUEST )
		|| ( defined( 'XMLRPC_REQUEST' ) && XMLRPC_REQUEST ) || ( defined( 'WP_CLI' ) && WP_CLI ) ) {
		return null;
	}
	if ( ! is_singular( post_types() ) ) {
		return null;
	}
	// A browser's speculative prefetch (Sec-Purpose: prefetch; older: Purpose/X-Purpose) is not a read.
	foreach ( array( 'HTTP_SEC_PURPOSE', 'HTTP_PURPOSE', 'HTTP_X_PURPOSE', 'HTTP_X_MOZ' ) as $header ) {
		if ( isset( $_SERVER[ $header ] ) && false !== stripos( (string) $_SERVER[ $header ], 'prefetch' ) ) {
			return null;
		}
	}
	$post = get_queried_object();
	if ( ! $post instanceof \WP_Post || 'publish' !== $post->post_status ) {
		return null; // drafts, pending, private, scheduled posts and their previews
	}
	$type = get_post_type_object( $post->post_type );
	if ( ! $type || ! $type->public ) {
		return null;
	}
	if ( post_password_required( $post ) ) {
		return null; // the reader sees the password form, not the post
	}
	if ( is_user_logged_in() && current_user_can( 'edit_post', $post->ID ) ) {
		return null; // the author or an editor checking the post
	}
	$agent = isset( $_SERVER['HTTP_USER_AGENT'] ) ? (string) $_SERVER['HTTP_USER_AGENT'] : '';
	if ( is_robot( $agent ) ) {
		return null;
	}
	return $post;
}

function count_view() {
	$post = countable_post();
	if ( ! $post ) {
		return;
	}
	global $wpdb;
	ensure_table();
	$table = table();
	// One atomic statement: concurrent views of a post on a day never lose a count.
	$wpdb->query(
		$wpdb->prepare(
			"INSERT INTO {$table} (post_id, day, views) VALUES (%d, %s, 1) ON DUPLICATE KEY UPDATE views = views + 1",
			$post->ID,
			gmdate( 'Y-m-d' )
		)
	);
}
add_action( 'template_redirect', __NAMESPACE__ . '\\count_view', 50 );

/* ---------------------------------------------------------------------------------------
 * Retention: a daily wp-cron event; a deleted post's rows go with it
 * ------------------------------------------------------------------------------------- */

function prune() {
	global $wpdb;
	ensure_table();
	$table  = table();
	$cutoff = gmdate( 'Y-m-d', time() - retention_days() * DAY_IN_SECONDS );
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE day < %s", $cutoff ) );
}
add_action( PRUNE_HOOK, __NAMESPACE__ . '\\prune' );

function schedule_prune() {
	if ( ! wp_next_scheduled( PRUNE_HOOK ) ) {
		wp_schedule_event( time() + HOUR_IN_SECONDS, 'daily', PRUNE_HOOK );
	}
}
add_action( 'init', __NAMESPACE__ . '\\schedule_prune' );

function forget_post( $post_id ) {
	global $wpdb;
	if ( get_option( DB_VERSION_OPTION ) !== DB_VERSION ) {
		return; // no table yet, nothing counted
	}
	$table = table();
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE post_id = %d", $post_id ) );
}
add_action( 'deleted_post', __NAMESPACE__ . '\\forget_post' );

/* ---------------------------------------------------------------------------------------
 * Reading: the totals per post, for the bridge
 * ------------------------------------------------------------------------------------- */

/**
 * A YYYY-MM-DD date that exists, or null.
 *
 * @param mixed $value Input.
 * @return string|null
 */
function valid_day( $value ) {
	if ( ! is_string( $value ) || ! preg_match( '/^(\d{4})-(\d{2})-(\d{2})$/', $value, $m ) ) {
		return null;
	}
	return checkdate( (int) $m[2], (int) $m[3], (int) $m[1] ) ? $value : null;
}

/**
 * One page of the totals per post.
 *
 * @param string|null $since    First day counted (UTC), or null for every kept day.
 * @param int         $page     Page, from 1.
 * @param int         $per_page Posts per page, 1..MAX_PER_PAGE.
 * @return array
 */
function totals( $since, $page, $per_page ) {
	global $wpdb;
	ensure_table();
	$table = table();
	$where = $since ? $wpdb->prepare( 'WHERE day >= %s', $since ) : '';
	$total = (int) $wpdb->get_var( "SELECT COUNT(DISTINCT post_id) FROM {$table} {$where}" );
	$rows  = $wpdb->get_results(
		$wpdb->prepare(
			"SELECT post_id, SUM(views) AS views FROM {$table} {$where} GROUP BY post_id ORDER BY post_id LIMIT %d OFFSET %d",
			$per_page,
			( $page - 1 ) * $per_page
		),
		ARRAY_A
	);
	$views = array();
	foreach ( (array) $rows as $row ) {
		$views[] = array(
			'post_id' => (int) $row['post_id'],
			'views'   => (int) $row['views'],
		);
	}
	return array(
		'since'          => $since,
		'page'           => $page,
		'per_page'       => $per_page,
		'pages'          => (int) ceil( $total / $per_page ),
		'total'          => $total,
		'retention_days' => retention_days(),
		'views'          => $views,
	);
}

/* REST: GET /wp-json/space-bridge/v1/views ------------------------------------------- */

function rest_permission() {
	if ( current_user_can( CAPABILITY ) ) {
		return true;
	}
	// 401 for an anonymous request, 403 for an account without the capability
	// (rest_authorization_required_code(), wp-includes/rest-api.php). Core's message, in core's
	// text domain: WP_REST_Server::dispatch()'s answer to a refused permission
	// (wp-includes/rest-api/class-wp-rest-server.php).
	return new \WP_Error(
		'rest_forbidden',
		__( 'Sorry, you are not allowed to do that.', 'default' ),
		array( 'status' => rest_authorization_required_code() )
	);
}

function rest_views( \WP_REST_Request $request ) {
	$since  = $request['since'] ? (string) $request['since'] : null;
	$answer = totals( $since, (int) $request['page'], (int) $request['per_page'] );
	$result = rest_ensure_response( $answer );
	// The same paging headers as WP_REST_Posts_Controller::get_items().
	$result->header( 'X-WP-Total', (string) $answer['total'] );
	$result->header( 'X-WP-TotalPages', (string) $answer['pages'] );
	return $result;
}

function register_routes() {
	register_rest_route(
		'space-bridge/v1',
		'/views',
		array(
			'methods'             => 'GET',
			'callback'            => __NAMESPACE__ . '\\rest_views',
			'permission_callback' => __NAMESPACE__ . '\\rest_permission',
			'args'                => array(
				'since'    => array(
					'type'              => 'string',
					'description'       => 'First day counted, YYYY-MM-DD (UTC); every kept day when absent.',
					'validate_callback' => function ( $value ) {
						return '' === $value || null !== valid_day( $value );
					},
				),
				'page'     => array(
					'type'    => 'integer',
					'minimum' => 1,
					'maximum' => 1000000,
					'default' => 1,
				),
				'per_page' => array(
					'type'    => 'integer',
					'minimum' => 1,
					'maximum' => MAX_PER_PAGE,
					'default' => 100,
				),
			),
		)
	);
}
add_action( 'rest_api_init', __NAMESPACE__ . '\\register_routes' );

/* XML-RPC: spaceBridge.getPostViews ---------------------------------------------------- */

/**
 * spaceBridge.getPostViews( blog_id, username, password, { since, page, per_page } ).
 *
 * Logs in as wp_xmlrpc_server's own methods do (wp_xmlrpc_server::login(),
 * wp-includes/class-wp-xmlrpc-server.php: fault 403 for bad credentials) and answers fault
 * 401 without the capability, as wp.* methods do for "not allowed".
 *
 * @param array $args Parameters.
 * @return array|\IXR_Error
 */
function xmlrpc_views( $args ) {
	global $wp_xmlrpc_server;
	$args     = (array) $args;
	$username = isset( $args[1] ) ? (string) $args[1] : '';
	$password = isset( $args[2] ) ? (string) $args[2] : '';
	$query    = isset( $args[3] ) && is_array( $args[3] ) ? $args[3] : array();
	if ( ! $wp_xmlrpc_server->login( $username, $password ) ) {
		return $wp_xmlrpc_server->error;
	}
	if ( ! current_user_can( CAPABILITY ) ) {
		return new \IXR_Error( 401, __( 'Sorry, you are not allowed to do that.', 'default' ) );
	}
	$since = isset( $query['since'] ) && '' !== $query['since'] ? valid_day( $query['since'] ) : null;
	if ( isset( $query['since'] ) && '' !== $query['since'] && null === $since ) {
		return new \IXR_Error( 400, 'since must be a date YYYY-MM-DD' );
	}
	$page     = isset( $query['page'] ) ? (int) $query['page'] : 1;
	$per_page = isset( $query['per_page'] ) ? (int) $query['per_page'] : 100;
	if ( $page < 1 || $page > 1000000 || $per_page < 1 || $per_page > MAX_PER_PAGE ) {
		return new \IXR_Error( 400, 'page must be from 1, per_page from 1 to ' . MAX_PER_PAGE );
	}
	$answer          = totals( $since, $page, $per_page );
	$answer['since'] = (string) $answer['since']; // XML-RPC has no null: "" for "every kept day"
	return $answer;
}

/**
 * Filter `xmlrpc_methods` (wp_xmlrpc_server::__construct()); the method then also appears in
 * mt.supportedMethods, which tells the bridge the counter is there.
 */
function xmlrpc_methods( $methods ) {
	$methods['spaceBridge.getPostViews'] = __NAMESPACE__ . '\\xmlrpc_views';
	return $methods;
}
add_filter( 'xmlrpc_methods', __NAMESPACE__ . '\\xmlrpc_methods' );
