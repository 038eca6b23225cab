"""VoxCPM2 model folders with random weights, in the `voxcpm` package's own layout.

The models are the package's own classes (VoxCPM2Model, AudioVAE V2) built from a
configuration, given random weights and saved exactly as the released folder is laid out:

    voxcpm2/config.json          {"architecture": "voxcpm2", lm_config, encoder_config, ...}
    voxcpm2/model.safetensors    every weight but the audio VAE's
    voxcpm2/audiovae.pth         the audio VAE (16 kHz in, 48 kHz out), a plain state dict
    voxcpm2/tokenizer.json, tokenizer_config.json, special_tokens_map.json

`tiny` keeps the real audio rates (640 input samples per latent frame at 16 kHz, 1920
output samples at 48 kHz, 4 frames per step: 0.16 s a step) with small networks, so the
real code path runs in seconds; `full` has the released model's sizes (about 2B weights,
for the benchmark only). The audio is noise; `stop` steers the random stop head (always,
never, or left random) so tests can choose how long a generation runs.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Literal

StopRule = Literal["random", "never", "always"]

# Characters the tiny tokenizer spells (one token each, as VoxCPM's tokenizer does for
# most text): enough for the test lines in English, German, French and Spanish.
_CHARS = string.ascii_letters + string.digits + " .,;:!?'\"()-" + "äöüÄÖÜßéèêàâçñáíóúÉ¿¡"


def _lm_config(full: bool) -> dict:
    head = 128 if full else 16
    return {
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_size": 2048 if full else 64,
        "intermediate_size": 6144 if full else 128,
        "max_position_embeddings": 32768 if full else 4096,
        "num_attention_heads": 16 if full else 4,
        "num_hidden_layers": 28 if full else 2,
        "num_key_value_heads": 2,
        "kv_channels": head,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": {
            "type": "longrope",
            "long_factor": [1.0] * (head // 2),
            "short_factor": [1.0] * (head // 2),
            "original_max_position_embeddings": 32768 if full else 4096,
        },
        "vocab_size": 73448 if full else 256,
        "use_mup": False,
        "scale_emb": 12.0,
        "dim_model_base": 256,
        "scale_depth": 1.4,
    }


def folder_config(full: bool = False, dtype: str = "float32") -> dict:
    """The config.json of a random VoxCPM2 folder (`full`: the released sizes)."""
    # The local encoder and DiT share the LM's rope factors (one per pair of a head's
    # channels), so their heads are as wide as the LM's (128): an estimate of the release.
    local = {"hidden_dim": 1024, "ffn_dim": 4096, "num_heads": 16, "num_layers": 12,
             "kv_channels": 128}  # fmt: skip
    if not full:
        local = {"hidden_dim": 64, "ffn_dim": 128, "num_heads": 4, "num_layers": 1}
    return {
        "architecture": "voxcpm2",
        "lm_config": _lm_config(full),
        "patch_size": 4,
        "feat_dim": 64,
        "residual_lm_num_layers": 8 if full else 1,
        "scalar_quantization_latent_dim": 512 if full else 32,
        "scalar_quantization_scale": 9,
        "encoder_config": dict(local),
        "dit_config": dict(local, cfm_config={"solver": "euler", "inference_cfg_rate": 2.0}),
        "audio_vae_config": {
            "encoder_dim": 128 if full else 8,
            "encoder_rates": [2, 5, 8, 8],
            "latent_dim": 64,
            "decoder_dim": 2048 if full else 64,
            "decoder_rates": [8, 6, 5, 2, 2, 2],
            "sample_rate": 16000,
            "out_sample_rate": 48000,
        },
        "max_length": 8192 if full else 1024,
        "device": "cpu",
        "dtype": dtype,
    }


def _write_tokenizer(folder: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3}
    for ch in _CHARS:
        vocab.setdefault(ch, len(vocab))
    # Ids 101-104 are VoxCPM2's audio and reference markers: reserved, as in the real one.
    while len(vocab) < vocab_size:
        vocab[f"<reserved_{len(vocab)}>"] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    tok = LlamaTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        add_bos_token=False,
        add_eos_token=False,
    )
    tok.save_pretrained(str(folder))


def make_voxcpm2_folder(
    folder: Path, *, full: bool = False, seed: int = 0, stop: StopRule = "random"
) -> Path:
    """Write a random-weight VoxCPM2 folder at `folder` (created) and return it."""
    import torch
    from safetensors.torch import save_file
    from voxcpm.model.voxcpm2 import VoxCPM2Model, VoxCPMConfig
    from voxcpm.modules.audiovae import AudioVAEConfigV2, AudioVAEV2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder_config(full)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    _write_tokenizer(folder, config["lm_config"]["vocab_size"])

    torch.manual_seed(seed)
    cfg = VoxCPMConfig.model_validate(config)
    vae = AudioVAEV2(AudioVAEConfigV2.model_validate(config["audio_vae_config"]))
    from transformers import LlamaTokenizerFast

    model = VoxCPM2Model(cfg, LlamaTokenizerFast.from_pretrained(str(folder)), vae, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("audio_vae."):
                continue
            # Small random weights keep the random network's activations finite.
            p.copy_(torch.randn_like(p) * (0.02 if p.ndim > 1 else 0.1))
        for norm in (m for n, m in model.named_modules() if n.endswith("norm")):
            if getattr(norm, "weight", None) is not None:
                norm.weight.fill_(1.0)
        if stop != "random":
            # stop_head's two logits: [go on, stop]; a constant bias through stop_proj's
            # output decides the argmax whatever the hidden state.
            model.stop_proj.weight.zero_()
            model.stop_proj.bias.fill_(1.0)
            model.stop_head.weight.zero_()
            model.stop_head.weight[1 if stop == "always" else 0].fill_(1.0)
    weights = {
        k: v.contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith("audio_vae.") and "rotary" not in k
    }
    save_file(weights, str(folder / "model.safetensors"))
    # The release ships the VAE as a plain state dict (read with weights_only=True).
    torch.save({k: v.contiguous() for k, v in vae.state_dict().items()}, folder / "audiovae.pth")
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    )
    return folder
