"""Post-to-topic mirroring, web hooks, and relay to wiki, chat and mail."""
