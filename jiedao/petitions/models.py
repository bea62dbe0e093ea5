"""信访 petitions."""
