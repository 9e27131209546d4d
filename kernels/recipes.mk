# Triton kernels (see kernels/README.md): ahead-of-time compile for the target GPUs (no GPU needed) and the
# interpreter parity tests against the PyTorch references.
.PHONY: kernels

kernels: $(STAMP)
	$(BIN)/jscc-rt kernels compile --arch sm_90 sm_120 --out out/kernels_aot
	TRITON_INTERPRET=1 $(BIN)/python -m pytest -q tests/kernels
	$(BIN)/jscc-rt bench kernels --out out/bench_kernels
