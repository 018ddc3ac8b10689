"The train tests' lab: `llmbook.lab`'s tasks and tokenizer with a tiny *random* Llama (fast, and the recipe must not rely on pretraining)."
from llmbook.lab import TASKS, items, messages, tokenizer, evaluate, new_model

def model(tok, seed=0, hidden=128, layers=2):
    "A random lab-architecture Llama, narrower and shallower than the shipped base (hidden must stay a multiple of 4 heads)."
    return new_model(tok, seed=seed, hidden_size=hidden, intermediate_size=2*hidden, num_hidden_layers=layers,
                     max_position_embeddings=64)
