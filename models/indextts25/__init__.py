"""IndexTTS-2.5: our implementation of the newer IndexTeam checkpoints (zh, en, ja, es, ar),
proven against the official `indextts/infer_v2_5.py` by `python -m models.parity
../shared/reference25`.

What 2.5 shares with 2.0 is imported, not copied: w2v-BERT features (models.semantic), the
flow model (models.s2m), BigVGAN (models.vocoder), CAMPPlus (models.speaker), emotion
matrices (models.emotion) and the GPT decoder (models.t2s). What 2.5 changes lives here:

    tokenizer.py  tiktoken vocabulary, specials, language ids
    text.py       the front-end: language token, per-language normalisation and case rules
    gpt.py        the GPT in campplus mode with the language embedding
    codec.py      the EnhancedCodec (25 codes/s; decode back to 50 Hz content)
    s2m.py        the flow model's loading without a GPT latent
    campplus.py   CAMPPlus with the widths its file has
    duration.py   exact duration at 25 codes/s (design notes)
    files.py      the official 2.5 folder layout, its checks
    voice.py      what a prompt gives 2.5
    engine.py     IndexTTS25Engine (models.contract.Engine)
"""
