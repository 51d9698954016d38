<?php
/**
 * Plugin Name: Space Bridge search
 * Description: The blog's search form searches the whole Space: it sends the query to space-bridge's /search (blog and forum in one index).
 * Version:     0.1.0
 * Author:      Wikimedia Space maintainers
 * License:     GPL-3.0-or-later
 *
 * A must-use plugin beside space-bridge.php. Configuration, in wp-config.php or a file it
 * includes:
 *
 *   define( 'SPACE_BRIDGE_SEARCH_URL', 'https://bridge.example.org/search' ); // unset or '': off
 *   define( 'SPACE_BRIDGE_SEARCH_SCOPE', 'blog' );  // optional: '' (default) the whole Space,
 *                                                   // 'blog' starts with in=blog (the blog's posts)
 *
 * When SPACE_BRIDGE_SEARCH_URL is an http(s) address, both of WordPress's search forms GET
 * that address instead of the blog's own ?s= search:
 *
 *   - get_search_form() (classic themes, widgets): the `get_search_form` filter
 *     (wp-includes/general-template.php) gets a form of our own, with the same markup and
 *     classes as core's (html5 or xhtml, as the theme declares) so the theme styles it;
 *   - the Search block (block themes such as Twenty Twenty-Three): the
 *     `render_block_core/search` filter (WP_Block::render(), wp-includes/class-wp-block.php)
 *     rewrites the form render_block_core_search() made (wp-includes/blocks/search.php): the
 *     action, and the field's name `s` to `q`. The block's own markup, classes and styles stay.
 *
 * The form sends `q` (the query), `uselang` (the blog's language, from get_locale(), so the
 * bridge's page answers in it; the bridge's `lang` field would instead keep only results in
 * that language) and, with SPACE_BRIDGE_SEARCH_SCOPE 'blog', `in=blog`. Unconfigured, nothing
 * changes: core's forms and the blog's own search.
 */

namespace SpaceBridge\Search;

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

/**
 * The bridge's search address, or '' when the feature is off (unset, empty, or not http(s)).
 *
 * @return string
 */
function search_url() {
	$url = defined( 'SPACE_BRIDGE_SEARCH_URL' ) ? trim( (string) SPACE_BRIDGE_SEARCH_URL ) : '';
	if ( '' === $url ) {
		return '';
	}
	$scheme = strtolower( (string) wp_parse_url( $url, PHP_URL_SCHEME ) );
	$host   = (string) wp_parse_url( $url, PHP_URL_HOST );
	return ( in_array( $scheme, array( 'http', 'https' ), true ) && '' !== $host ) ? $url : '';
}

/**
 * The form's action: the address without its query and fragment. A browser submitting a GET
 * form replaces the action's query with the form's fields (HTML's "mutate action URL"), so
 * the address's own query parameters are sent as hidden fields instead (hidden_fields()).
 *
 * @return string
 */
function form_action() {
	return (string) preg_replace( '/[?#].*$/s', '', search_url() );
}

/**
 * The fields sent besides `q`: name => value.
 *
 * @return array<string, string>
 */
function hidden_fields() {
	$fields = array();
	$query  = (string) wp_parse_url( search_url(), PHP_URL_QUERY );
	if ( '' !== $query ) {
		wp_parse_str( $query, $params );
		foreach ( (array) $params as $name => $value ) {
			if ( is_string( $value ) && 'q' !== $name ) {
				$fields[ (string) $name ] = $value;
			}
		}
	}
	// get_locale() is e.g. "es_ES", "ar" or "pt_BR": the language is the part before "_".
	$lang = strtolower( (string) strtok( (string) get_locale(), '_' ) );
	if ( preg_match( '/^[a-z]{2,3}$/', $lang ) ) {
		$fields['uselang'] = $lang;
	}
	$scope = defined( 'SPACE_BRIDGE_SEARCH_SCOPE' ) ? (string) SPACE_BRIDGE_SEARCH_SCOPE : '';
	if ( 'blog' === $scope ) {
		$fields['in'] = 'blog';
	}
	return $fields;
}

function hidden_inputs_html() {
	$html = '';
	foreach ( hidden_fields() as $name => $value ) {
		$html .= '<input type="hidden" name="' . esc_attr( $name ) . '" value="' . esc_attr( $value ) . '" />';
	}
	return $html;
}

/**
 * Filter `get_search_form`: the form of get_search_form(), sent to the bridge.
 *
 * Markup as core builds it in get_search_form() (wp-includes/general-template.php, WordPress
 * 6.1): html5 when the theme supports 'html5' 'search-form' (after the `search_form_format`
 * filter), else xhtml; the same classes and ids, the same translated strings; only the action,
 * the field's name and the hidden fields differ. core's null contract ("null: use the default
 * form") is kept: a non-string is returned as it came.
 *
 * @param string|null $form Core's (or the theme's searchform.php) form.
 * @param array       $args get_search_form()'s arguments (aria_label, echo).
 * @return string|null
 */
function search_form( $form, $args = array() ) {
	$url = search_url();
	if ( '' === $url || ! is_string( $form ) ) {
		return $form;
	}
	$args       = is_array( $args ) ? $args : array();
	$aria_label = empty( $args['aria_label'] ) ? '' : 'aria-label="' . esc_attr( $args['aria_label'] ) . '" ';
	$format     = current_theme_supports( 'html5', 'search-form' ) ? 'html5' : 'xhtml';
	/** This filter is documented in wp-includes/general-template.php */
	$format = apply_filters( 'search_form_format', $format, $args );
	$value  = esc_attr( get_search_query( false ) );
	$hidden = hidden_inputs_html();

	// Core's words, in core's text domain ('default'), so that the form reads and is translated
	// exactly like the one it replaces (get_search_form(), wp-includes/general-template.php).
	if ( 'html5' === $format ) {
		return '<form role="search" ' . $aria_label . 'method="get" class="search-form" action="' . esc_url( form_action() ) . '">'
			. '<label>'
			. '<span class="screen-reader-text">' . esc_html_x( 'Search for:', 'label', 'default' ) . '</span>'
			. '<input type="search" class="search-field" placeholder="' . esc_attr_x( 'Search &hellip;', 'placeholder', 'default' ) . '" value="' . $value . '" name="q" />'
			. '</label>'
			. $hidden
			. '<input type="submit" class="search-submit" value="' . esc_attr_x( 'Search', 'submit button', 'default' ) . '" />'
			. '</form>';
	}
	return '<form role="search" ' . $aria_label . 'method="get" id="searchform" class="searchform" action="' . esc_url( form_action() ) . '">'
		. '<div>'
		. '<label class="screen-reader-text" for="s">' . esc_html_x( 'Search for:', 'label', 'default' ) . '</label>'
		. '<input type="text" value="' . $value . '" name="q" id="s" />'
		. $hidden
		. '<input type="submit" id="searchsubmit" value="' . esc_attr_x( 'Search', 'submit button', 'default' ) . '" />'
		. '</div>'
		. '</form>';
}
add_filter( 'get_search_form', __NAMESPACE__ . '\\search_form', 20, 2 );

/**
 * Filter `render_block_core/search`: the Search block's form, sent to the bridge.
 *
 * render_block_core_search() (wp-includes/blocks/search.php) returns
 * `<form role="search" method="get" action="<home_url('/')>" ...>` around a
 * `<input type="search" ... name="s" .../>` (and the block's `query` attribute as hidden
 * inputs). WordPress 6.1 has no HTML tag processor (WP_HTML_Tag_Processor is 6.2), so the two
 * attributes are replaced in the first <form> tag and the first input named "s"; when the
 * markup is not as expected, the block is left as it is (the blog's own search still works).
 *
 * @param string $content The block's HTML.
 * @return string
 */
function search_block( $content ) {
	$url = search_url();
	if ( '' === $url || ! is_string( $content ) ) {
		return $content;
	}
	if ( ! preg_match( '/<form\b[^>]*>/i', $content, $form, PREG_OFFSET_CAPTURE ) ) {
		return $content;
	}
	$tag = $form[0][0];
	if ( ! preg_match( '/\saction=("[^"]*"|\'[^\']*\')/i', $tag, $action, PREG_OFFSET_CAPTURE ) ) {
		return $content;
	}
	// substr_replace, not a preg replacement: "$1" or "\\1" in the address must stay as they are.
	$new = substr_replace( $tag, ' action="' . esc_url( form_action() ) . '"', $action[0][1], strlen( $action[0][0] ) );
	$rest = substr( $content, $form[0][1] + strlen( $tag ) );
	$rest = preg_replace( '/(<input\b[^>]*?\sname=)("s"|\'s\')/i', '$1"q"', $rest, 1, $renamed );
	if ( 1 !== $renamed ) {
		return $content;
	}
	return substr( $content, 0, $form[0][1] ) . $new . hidden_inputs_html() . $rest;
}
add_filter( 'render_block_core/search', __NAMESPACE__ . '\\search_block', 20 );
