"""RAISE's online agent: ask the few questions that matter, then answer (SPEC section 8)."""
