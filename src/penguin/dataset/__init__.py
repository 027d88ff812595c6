"""PENGUIN data: files, sampler, bundled set, importers and the LLM pipelines."""
