"""One client class per external platform, so flows never build platform URLs themselves."""
