"""Reading conversations: sentiment, urgency and buying signals per message."""
