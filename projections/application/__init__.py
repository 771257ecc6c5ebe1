"""Use cases of the read side: project, rebuild, answer balance questions; and progress output."""
