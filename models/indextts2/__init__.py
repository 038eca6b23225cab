"""IndexTTS2 (the 2.0 release): its engine, loaded parts and voices. The files of its model
folder are found by models/layout.py; the chain it shares with IndexTTS-2.5 is
models/indextts_chain.py."""
