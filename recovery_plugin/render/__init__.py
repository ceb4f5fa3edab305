"""What people read: console summary and progress, text, Markdown and HTML views."""
