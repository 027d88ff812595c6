"""RAISE offline planner: LLM-guided MCTS over attribute sets, baselines, path library."""
