#!/bin/sh
# Rebuild the demo model from nothing: data -> tokenizer -> training -> HF checkpoint ->
# demo/model.bin + demo/tokenizer.bin -> expectations for tests/test_demo.py.
#
#   sh demo/build.sh            (from the repository root; about 40 minutes on one core)
#
# Needs: a C compiler and make (./ouro encodes the training text, so training and inference
# see the same tokens), python3, and for training only Debian's PyTorch and OpenBLAS:
#   apt-get install -y python3-torch libopenblas0-pthread
# (training runs under /usr/bin/python3, where Debian installs torch). Intermediate files go
# to build/demo/ (not committed). TRAIN_ARGS="--steps 20" passes flags to train.py (a smoke test).
set -e
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
B=build/demo
make ouro
python3 demo/make_data.py --out $B
python3 demo/train_tokenizer.py $B/train.txt $B/tokenizer.json
python3 export.py --tokenizer $B/tokenizer.json $B/tokenizer.bin
./ouro -m encode -z $B/tokenizer.bin -f $B/train.txt > $B/train.ids
./ouro -m encode -z $B/tokenizer.bin -f $B/valid.txt > $B/valid.ids
$TORCH_PYTHON demo/train.py --data $B --out $B/ckpt $TRAIN_ARGS
python3 export.py $B/ckpt demo/model.bin --dtype bf16
$TORCH_PYTHON demo/eval.py --ckpt $B/ckpt --write demo/expected.json
python3 tests/test_demo.py --ouro ./ouro
