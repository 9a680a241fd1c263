"""Customer-facing pages under /c/: the join page and the customer's card. No login; each page
is reached through an unguessable code (the business's join code, the customer's card token)."""
