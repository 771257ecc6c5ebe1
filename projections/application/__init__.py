"""Use cases of the read side: rebuild, answer balance questions."""
