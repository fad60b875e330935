# Conversations, messages and the rest of the inbox arrive with the conversations work.
