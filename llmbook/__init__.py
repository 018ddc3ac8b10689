"""繁體中文 LLM 微調手冊：notebook-first, tested on CPU, runs on free Colab

Modules:

- `llmbook.evals`: 分數是量出來的，量法不同，分數就不同。這一章從零寫出困惑度（perplexity，含滑動視窗）、完全比對（exact match）與選擇題的對數概似（log-likelihood）評分， 用 TMMLU+ 的格式在實驗室上示範同一個模型換個出題格式分數就變了，最後用 `llmbook tour` 的同一套流程，把全書做出的每一種檢查點放進一張排行榜。
- `llmbook.tour`: 一個指令把本書教過的每一步接起來，在 CPU 上用實驗室模型跑完：監督式微調、LoRA、QLoRA、DPO、蒸餾、合併、量化， 每產生一個檢查點就評估一次，最後寫出一張排行榜（CSV、Markdown 和一張圖）。第 11 章的排行榜就是用這裡的程式碼產生的。"""

__version__ = "0.1.0"
