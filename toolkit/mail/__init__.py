"""Mail: templates out, returns in, reminders, replies and the leaders' summary (see DESIGN.md)."""
