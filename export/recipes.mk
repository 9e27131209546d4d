# Engine recipes (see export/README.md). `make engines` runs anywhere (CPU): ONNX graphs in every precision, parity
# and the accuracy gate on Kodak. `make engines-rtx5090` / `make engines-h100` run on the GPU box itself (TensorRT
# engines are built for the GPU they run on; the cache key holds GPU, compute capability, driver and TensorRT version).
# the shipped 1/16 flagship (jscc_rt.models.registry.FLAGSHIP_1_16), read when a recipe runs
FLAGSHIP ?= $(shell $(BIN)/python -c "from jscc_rt.models.registry import FLAGSHIP_1_16 as f; print(f)")
ENGINES ?= out/engines
GATE_DB ?= 0.1

.PHONY: engines engines-rtx5090 engines-h100

engines: $(STAMP)
	$(BIN)/jscc-rt export onnx --model $(FLAGSHIP) --out $(ENGINES)/flagship --precision fp32 fp16 bf16 int8
	$(BIN)/jscc-rt export onnx --model vae-1_16 --denoiser denoiser-vae-1_16 --consistency consistency-vae-1_16 --out $(ENGINES)/vae --precision fp32 fp16 bf16 int8
	$(BIN)/jscc-rt export check --onnx-dir $(ENGINES)/flagship --data $(DATA)/kodak --tolerance-db $(GATE_DB) --out $(ENGINES)/flagship
	$(BIN)/jscc-rt export check --onnx-dir $(ENGINES)/vae --data $(DATA)/kodak --tolerance-db $(GATE_DB) --out $(ENGINES)/vae

# RTX 5090 (Blackwell, sm_120): CUDA >= 12.8, TensorRT >= 10.8 (11.x strongly typed). fp16 and bf16 engines of every
# receiver graph; the default optimization profile covers batch 1-16 and both Kodak orientations (512x768, 768x512).
RECEIVERS = $(ENGINES)/flagship/receiver_decoder.onnx $(addprefix $(ENGINES)/vae/receiver_, decoder.onnx \
	ddim1.onnx ddim2.onnx ddim4.onnx consistency1.onnx consistency2.onnx consistency4.onnx)

engines-rtx5090 engines-h100: engines
	$(BIN)/jscc-rt export trt $(RECEIVERS) --precision fp16 --cache $(ENGINES)/trt
	$(BIN)/jscc-rt export trt $(RECEIVERS) --precision bf16 --cache $(ENGINES)/trt
	$(BIN)/jscc-rt export latency --onnx-dir $(ENGINES)/vae --data $(DATA)/kodak --out $(ENGINES)/latency
