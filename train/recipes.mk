# One recipe per shipped weight (jscc_rt/weights/NAME.pt): `make train-NAME` reruns the exact training command of
# jscc_rt/weights/TRAINING.md into runs/NAME/. Weights trained before bf16/EMA training existed pin the settings they
# ran with (--precision fp32 --no-channels-last, and --ema 0 for `jscc-rt train`), so today's defaults do not change
# them. DATA holds photos/ and kodak/ (never copied into the project).
DATA ?= ../shared/data
JR = $(BIN)/jscc-rt
OLD_TRAIN = --precision fp32 --no-channels-last --ema 0
OLD = --precision fp32 --no-channels-last
TRAIN_DATA = --data $(DATA)/photos --val-data $(DATA)/kodak
RESUME ?=

.PHONY: train-deepjscc-1_16 train-deepjscc-1_6 train-vae-1_16 train-denoiser-vae-1_16 train-consistency-vae-1_16 \
	train-vae-1_16-x2 train-vae-1_16-x4 train-unrolled-1_16 train-noma-kd-1_16 train-noma-nokd-1_16 \
	train-deepjscc-res-1_16 train-unrolled-w64-1_16 train-vae-1_6 train-unrolled-w128-1_16 train-unrolled-w128-1_12

train-deepjscc-1_16: $(STAMP)
	$(JR) train --model deepjscc --ratio 1/16 --steps 12000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --val-every 1000 --ckpt-every 500 --seed 0 $(OLD_TRAIN) --out runs/deepjscc-1_16

train-deepjscc-1_6: $(STAMP)
	$(JR) train --model deepjscc --ratio 1/6 --steps 2000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --val-every 500 --ckpt-every 500 --seed 0 $(OLD_TRAIN) --out runs/deepjscc-1_6

train-vae-1_16: $(STAMP)
	$(JR) train --model vae --ratio 1/16 --steps 8000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --val-every 1000 --ckpt-every 500 --seed 0 $(OLD_TRAIN) --out runs/vae-1_16

# one run writes both denoiser.pt and consistency.pt
train-denoiser-vae-1_16 train-consistency-vae-1_16: $(STAMP)
	$(JR) train-diffusion --jscc jscc_rt/weights/vae-1_16.pt --data $(DATA)/photos --n-latents 2000 --steps 2000 --cd-steps 500 --threads 1 --seed 0 $(OLD) --out runs/diffusion-vae-1_16

train-vae-1_16-x2: $(STAMP)
	$(JR) train-compress --base jscc_rt/weights/vae-1_16.pt --factor 2 $(TRAIN_DATA) --crop 96 --batch-size 8 --steps 1500 --val-every 500 --threads 1 --seed 0 $(OLD) --out runs/compress-x2

train-vae-1_16-x4: $(STAMP)
	$(JR) train-compress --base jscc_rt/weights/vae-1_16.pt --factor 4 $(TRAIN_DATA) --crop 96 --batch-size 8 --steps 1500 --val-every 500 --threads 1 --seed 0 $(OLD) --out runs/compress-x4

train-unrolled-1_16: $(STAMP)
	$(JR) train --model unrolled --ratio 1/16 --width 32 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --steps 6000 --val-every 1000 --ckpt-every 500 --seed 0 $(OLD_TRAIN) --out runs/unrolled-1_16

train-noma-kd-1_16: $(STAMP)
	$(JR) train-noma --teacher unrolled-1_16 $(TRAIN_DATA) --steps 2000 --val-every 500 --threads 1 --seed 0 $(OLD) --out runs/noma-kd

train-noma-nokd-1_16: $(STAMP)
	$(JR) train-noma --teacher unrolled-1_16 --no-kd $(TRAIN_DATA) --steps 2000 --val-every 500 --threads 1 --seed 0 $(OLD) --out runs/noma-nokd

train-deepjscc-res-1_16: $(STAMP)
	$(JR) train --model deepjscc --arch res --width 128 --ratio 1/16 --steps 16000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --ckpt-every 1000 --val-every 1000 --seed 0 $(OLD_TRAIN) --out runs/deepjscc-res-1_16

# trained with transposed convolutions, then converted exactly to sub-pixel convolutions (TRAINING.md)
train-unrolled-w64-1_16: $(STAMP)
	$(JR) train --model unrolled --width 64 --ratio 1/16 --steps 28000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --ckpt-every 1000 --val-every 1000 --seed 0 $(OLD_TRAIN) --out runs/unrolled-w64-1_16
	$(BIN)/python -c "from jscc_rt.models.upsample import convert_checkpoint as c; c('runs/unrolled-w64-1_16/model.pt', 'runs/unrolled-w64-1_16/model-subpixel.pt')"

train-vae-1_6: $(STAMP)
	$(JR) train --model vae --arch res --width 128 --ratio 1/6 --beta-kl 1e-4 --steps 6000 $(TRAIN_DATA) --batch-size 8 --crop 96 --threads 1 --ckpt-every 1000 --val-every 1000 --seed 0 $(OLD_TRAIN) --out runs/vae-res-1_6

# the flagship: bf16 + channels_last on CPU, EMA; hours of training, resumable (make train-unrolled-w128-1_16 RESUME=--resume)
train-unrolled-w128-1_16: $(STAMP)
	$(JR) train --model unrolled --ratio 1/16 --width 128 --upsample subpixel $(TRAIN_DATA) --crop 128 --batch-size 16 --steps 60000 --lr 0.0005 --lr-min 1e-05 --warmup 500 --snr-min-db -5.0 --snr-max-db 20.0 --channel awgn --seed 0 --val-every 1000 --val-images 4 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --ema 0.999 --out train/checkpoints/flagship-1_16 $(RESUME)

# more bandwidth, more quality (#15): the flagship widened to k/n 1/12 (32 latent channels, the flagship's 24 first,
# `resize_from`) and fine-tuned over AWGN like the flagship; resumable (make train-unrolled-w128-1_12 RESUME=--resume)
train-unrolled-w128-1_12: $(STAMP)
	$(JR) train --model unrolled --ratio 1/12 --width 128 --upsample subpixel --init unrolled-w128-1_16 $(TRAIN_DATA) --crop 128 --batch-size 16 --steps 6000 --lr 0.0002 --lr-min 1e-05 --warmup 200 --snr-min-db -5.0 --snr-max-db 20.0 --channel awgn --seed 0 --val-every 1000 --val-images 4 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --ema 0.999 --out train/checkpoints/fixed-1_12 --no-progress $(RESUME)

# one rate-adaptive model for k/n 1/64..1/4 (#19), seeded by the flagship (its channels first); resumable
RA_ARGS = --model unrolled --width 128 --downsample 8 --upsample subpixel --unroll-iters 5 --init unrolled-w128-1_16 $(TRAIN_DATA) --crop 128 --batch-size 16 --lr 0.0002 --lr-min 1e-05 --snr-min-db -5 --snr-max-db 20 --channel mixed --seed 0 --val-images 4 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --ema 0.999
train-unrolled-w128-1_64-1_4: $(STAMP)
	$(JR) train $(RA_ARGS) --ratio 1/4 --min-ratio 1/64 --steps 10000 --warmup 500 --val-every 2000 --out train/checkpoints/rate-adaptive --no-progress $(RESUME)

# its second stage (the shipped weights): the first stage's weights (train/checkpoints/rate-adaptive/model.pt, shipped
# as unrolled-w128-1_64-1_4 when this stage started) trained on with the log-MSE loss, so the small budgets' larger
# errors no longer dominate the gradient
RA2_ARGS = $(subst --init unrolled-w128-1_16,--init train/checkpoints/rate-adaptive/model.pt,$(subst --lr 0.0002,--lr 0.0001,$(RA_ARGS)))
train-unrolled-w128-1_64-1_4-stage2: $(STAMP)
	$(JR) train $(RA2_ARGS) --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 12000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-2 --no-progress $(RESUME)

# its third stage (shipped since 2026-12-04): the stage-2 weights deepened by two residual synthesis blocks at H/4 (--decoder-blocks 2,
# seeded as the identity by deepen_from), log-MSE, 12000 steps; resumable
RA3_ARGS = $(subst --init unrolled-w128-1_16,--init train/checkpoints/rate-adaptive-2/model.pt,$(RA_ARGS))
train-unrolled-w128-1_64-1_4-stage3: $(STAMP)
	$(JR) train $(RA3_ARGS) --decoder-blocks 2 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 12000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-3 --no-progress $(RESUME)

# its fourth stage (#19: PSNR still falls from 1/6 to 1/4 at 20 dB, the top of the trained SNR range): the shipped
# stage-3 weights trained on with the SNR range widened to -5..25 dB, so 20 dB is inside it; same architecture (the
# latency per budget is unchanged), log-MSE, lr 1e-4 to 1e-5, 12000 steps; resumable
RA4_ARGS = $(subst --snr-max-db 20,--snr-max-db 25,$(subst --lr 0.0002,--lr 0.0001,$(subst --init unrolled-w128-1_16,--init train/checkpoints/rate-adaptive-3/model.pt,$(RA_ARGS))))
train-unrolled-w128-1_64-1_4-stage4: $(STAMP)
	$(JR) train $(RA4_ARGS) --decoder-blocks 2 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 12000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-4 --no-progress $(RESUME)

# its fifth stage (shipped since 2026-12-04; #19: at 20 dB the fourth stage still falls from 1/6 to 1/4, and it is
# 0.13-0.16 dB under the flagship at 1/16 and 10-20 dB): the fourth stage's weights deepened to four residual
# synthesis blocks at H/4 (the two new ones start as the identity), SNR -5..25 dB, log-MSE, lr 2e-4 to 1e-5,
# 14000 steps; resumable
RA5_ARGS = $(subst --snr-max-db 20,--snr-max-db 25,$(subst --init unrolled-w128-1_16,--init train/checkpoints/rate-adaptive-4/model.pt,$(RA_ARGS)))
train-unrolled-w128-1_64-1_4-stage5: $(STAMP)
	$(JR) train $(RA5_ARGS) --decoder-blocks 4 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 14000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-5 --no-progress $(RESUME)

# its sixth stage (#19: stage 5 still falls 0.08 dB from 1/6 to 1/4 at 20 dB and sits 0.07 dB under the AWGN-only
# flagship at 1/16 and 10-20 dB): the shipped stage-5 weights trained on with a quarter of the steps over Rayleigh
# fading instead of half (--rayleigh-share 0.25), fresh crops (seed 6), lr 1e-4 to 1e-5, 8000 steps; resumable
RA6_ARGS = $(subst --seed 0,--seed 6,$(subst --snr-max-db 20,--snr-max-db 25,$(subst --lr 0.0002,--lr 0.0001,$(subst --init unrolled-w128-1_16,--init train/checkpoints/rate-adaptive-5/model.pt,$(RA_ARGS)))))
train-unrolled-w128-1_64-1_4-stage6: $(STAMP)
	$(JR) train $(RA6_ARGS) --rayleigh-share 0.25 --decoder-blocks 4 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 8000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-6 --no-progress $(RESUME)

# its seventh stage (#19: stage 6 still peaks at 1/6 at 20 dB and falls 0.09 dB to 1/4, on 18 of the 24 images, most
# kodim02): the stage-6 weights trained on with the largest budget drawn three times as often as each other ladder
# ratio (--ladder-weights 1,1,1,1,1,1,3), a quarter Rayleigh, seed 7, lr 1e-4 to 1e-5, 6000 steps; resumable
RA7_ARGS = $(subst --seed 6,--seed 7,$(subst rate-adaptive-5/model.pt,rate-adaptive-6/model.pt,$(RA6_ARGS)))
train-unrolled-w128-1_64-1_4-stage7: $(STAMP)
	$(JR) train $(RA7_ARGS) --rayleigh-share 0.25 --ladder-weights 1,1,1,1,1,1,3 --decoder-blocks 4 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 6000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-7 --no-progress $(RESUME)

# its eighth stage (#19: stage 7 still falls 0.04 dB from 1/6 to 1/4 at 20 dB, and lost 0.07-0.30 dB against stage 5
# at 1/64 and 1/32 at 0 dB): the stage-7 weights with the two smallest budgets drawn twice and the largest four times
# as often as the middle ones (--ladder-weights 2,2,1,1,1,1,4), a quarter Rayleigh, seed 8, lr 1e-4 to 1e-5, 6000
# steps; resumable
RA8_ARGS = $(subst --seed 6,--seed 8,$(subst rate-adaptive-5/model.pt,rate-adaptive-7/model.pt,$(RA6_ARGS)))
train-unrolled-w128-1_64-1_4-stage8: $(STAMP)
	$(JR) train $(RA8_ARGS) --rayleigh-share 0.25 --ladder-weights 2,2,1,1,1,1,4 --decoder-blocks 4 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 6000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-8 --no-progress $(RESUME)

# its ninth stage (#19: stage 8 still falls 0.01 dB from 1/6 to 1/4 at 20 dB, 34.27 -> 34.26): the stage-8 weights
# with the largest budget drawn six times as often as the middle ones and the three smallest twice
# (--ladder-weights 2,2,2,1,1,1,6, so 1/16 keeps its margin over the flagship), a quarter Rayleigh, seed 9, lr 1e-4
# to 1e-5, 6000 steps; resumable
RA9_ARGS = $(subst --seed 6,--seed 9,$(subst rate-adaptive-5/model.pt,rate-adaptive-8/model.pt,$(RA6_ARGS)))
train-unrolled-w128-1_64-1_4-stage9: $(STAMP)
	$(JR) train $(RA9_ARGS) --rayleigh-share 0.25 --ladder-weights 2,2,2,1,1,1,6 --decoder-blocks 4 --loss log-mse --ratio 1/4 --min-ratio 1/64 --steps 6000 --warmup 200 --val-every 2000 --out train/checkpoints/rate-adaptive-9 --no-progress $(RESUME)

# the flagship's latent denoiser (#16; its consistency student is distilled from it in a run of its own): 8000 latents
# of 256-pixel crops of the training photos at -5..20 dB, 30000 steps, bf16; hours, resumable
# (make train-diffusion-unrolled-w128-1_16 RESUME=--resume; the latent set is rebuilt from the seed on resume)
train-denoiser-unrolled-w128-1_16 train-diffusion-unrolled-w128-1_16: $(STAMP)
	$(JR) train diffusion --jscc unrolled-w128-1_16 --data $(DATA)/photos --crop 256 --n-latents 8000 --latent-crop 16 --batch-size 32 --steps 30000 --cd-steps 0 --lr 0.0003 --seed 0 --threads 2 --precision bf16 --channels-last --ckpt-every 500 --out train/checkpoints/diffusion-flagship --no-progress $(RESUME)

# the flagship-length denoiser of `vae-1_16` (#16 3a: the prior behind the x2/x4 compressed links, which decode
# through vae-1_16's latent): the same recipe as the flagship's denoiser; resumable
train-diffusion-vae-1_16-long: $(STAMP)
	$(JR) train diffusion --jscc vae-1_16 --data $(DATA)/photos --crop 256 --n-latents 8000 --latent-crop 16 --batch-size 32 --steps 30000 --cd-steps 0 --lr 0.0003 --seed 0 --threads 2 --precision bf16 --channels-last --ckpt-every 500 --out train/checkpoints/diffusion-vae-1_16 --no-progress $(RESUME)

# the same denoiser recipe for `unrolled-w64-1_16` (#16 item 1: "and for unrolled-w64-1_16 if it is not the
# flagship"; its latent has the flagship's 24 channels); resumable
train-diffusion-unrolled-w64-1_16: $(STAMP)
	$(JR) train diffusion --jscc unrolled-w64-1_16 --data $(DATA)/photos --crop 256 --n-latents 8000 --latent-crop 16 --batch-size 32 --steps 30000 --cd-steps 0 --lr 0.0003 --seed 0 --threads 2 --precision bf16 --channels-last --ckpt-every 500 --out train/checkpoints/diffusion-w64 --no-progress $(RESUME)

# its consistency student, distilled from that denoiser (--teacher, --steps 0: distillation only; the same latent set),
# then tuned on the receiver's own 1-, 2- and 4-step plans (#16: a student that improves with steps); resumable
DIFF_LATENTS = --jscc unrolled-w128-1_16 --data $(DATA)/photos --crop 256 --n-latents 8000 --latent-crop 16 --seed 0 --threads 2 --precision bf16 --channels-last --no-progress
train-consistency-unrolled-w128-1_16: $(STAMP)
	$(JR) train diffusion $(DIFF_LATENTS) --teacher train/checkpoints/diffusion-flagship/denoiser.pt --steps 0 --cd-steps 3000 --batch-size 32 --ckpt-every 250 --out train/checkpoints/consistency-flagship $(RESUME)
train-receiver-unrolled-w128-1_16: $(STAMP)
	$(JR) train receiver $(DIFF_LATENTS) --student train/checkpoints/consistency-flagship/consistency.pt --plan-steps 1,2,4 --batch-size 16 --steps 2000 --lr 2e-5 --ckpt-every 250 --val-every 250 --out train/checkpoints/receiver-flagship $(RESUME)

# the flagship's decoder fine-tuned behind that denoiser (#16: the decoder sees what the receiver feeds it): encoder and
# denoiser frozen, DDIM with STEPS sampler steps (default 1) from the SNR-matched start, the decoder conditioned on
# the effective SNR (evaluate with --decoder-snr effective); resumable
STEPS ?= 1
train-unrolled-w128-1_16-behind-ddim train-unrolled-w128-1_16-behind-ddim1: $(STAMP)
	$(JR) train --model unrolled --ratio 1/16 --width 128 --upsample subpixel --init unrolled-w128-1_16 --denoiser train/checkpoints/diffusion-flagship/denoiser.pt --denoise-steps $(STEPS) --decoder-snr effective $(TRAIN_DATA) --crop 128 --batch-size 16 --steps 4000 --lr 0.0001 --lr-min 1e-05 --warmup 100 --snr-min-db -5.0 --snr-max-db 20.0 --channel awgn --seed 0 --val-every 1000 --val-images 4 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --ema 0.999 --out train/checkpoints/flagship-behind-ddim$(STEPS) --no-progress $(RESUME)

# its control (#16: what the denoiser adds, not the extra fine-tuning): the same 4000 steps, the flagship's decoder
# fine-tuned on the received latent itself, encoder frozen, no denoiser; resumable
train-unrolled-w128-1_16-decoder-control: $(STAMP)
	$(JR) train --model unrolled --ratio 1/16 --width 128 --upsample subpixel --init unrolled-w128-1_16 --freeze-encoder $(TRAIN_DATA) --crop 128 --batch-size 16 --steps 4000 --lr 0.0001 --lr-min 1e-05 --warmup 100 --snr-min-db -5.0 --snr-max-db 20.0 --channel awgn --seed 0 --val-every 1000 --val-images 4 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --ema 0.999 --out train/checkpoints/flagship-decoder-control --no-progress $(RESUME)

# #16 3a: the base decoder of `vae-1_16-x4` fine-tuned on what its diffusion receiver feeds it (the long vae-1_16
# denoiser, DDIM 1 from the calibrated upsampler start, decoder conditioned on the effective SNR), and the control:
# the same fine-tuning on the upsampler's output alone (what fine-tuning buys without a prior); resumable
X4_TUNE = --link vae-1_16-x4 $(TRAIN_DATA) --crop 128 --batch-size 16 --steps 2000 --lr 0.0001 --lr-min 1e-05 --warmup 100 --seed 0 --val-every 500 --val-images 4 --val-snr-db 0 --ckpt-every 250 --threads 2 --precision bf16 --channels-last --no-progress
train-x4-decoder-behind-ddim1: $(STAMP)
	$(JR) train compress-decoder $(X4_TUNE) --denoiser train/checkpoints/diffusion-vae-1_16/denoiser.pt --denoise-steps 1 --start calibrated --calib-data $(DATA)/photos --out train/checkpoints/x4-decoder-behind-ddim1 $(RESUME)
train-x4-decoder-control: $(STAMP)
	$(JR) train compress-decoder $(X4_TUNE) --out train/checkpoints/x4-decoder-control $(RESUME)

# fixed-rate comparators of the rate-adaptive model (#19: "same CPU time per budget"): its final architecture
# (--decoder-blocks 2), seed weights and settings at one budget, each with 1/7 of the rate-adaptive model's steps over
# its three stages ((10000 + 12000 + 12000) / 7 = 4857; the ladder has 7 budgets); not shipped, measured in
# docs/results.md; resumable (make train-fixed-comparator RATIO=1/8 RESUME=--resume)
RATIO ?= 1/8
train-fixed-comparator: $(STAMP)
	$(JR) train $(RA_ARGS) --decoder-blocks 2 --ratio $(RATIO) --steps 4857 --warmup 200 --val-every 4857 --out train/checkpoints/fixed-comparator-$(subst /,_,$(RATIO)) --no-progress $(RESUME)

# the same for the shipped fifth stage (four synthesis blocks; 10000 + 3 x 12000 + 14000 = 60000 steps over its five
# stages, 60000 / 7 = 8571 per budget): make train-fixed-comparator4 RATIO=1/8 [RESUME=--resume]
train-fixed-comparator4: $(STAMP)
	$(JR) train $(RA_ARGS) --decoder-blocks 4 --ratio $(RATIO) --steps 8571 --warmup 200 --val-every 8571 --out train/checkpoints/fixed-comparator4-$(subst /,_,$(RATIO)) --no-progress $(RESUME)

# the same for the shipped ninth stage (four synthesis blocks, 86000 steps over nine stages). Same CPU time, measured
# (docs/results.md, comparator section): 22000 steps at 3.674 steps/s (no blocks) + 24000 at 3.067 (two) + 40000 at
# 2.706 (four) = 28,595 s, 4,085 s per budget; the fastest four-block comparator measured runs 3.098 steps/s (1/16),
# so 13000 steps give every budget at least that time (4,196 s at 1/16, 4,618 s at 1/4). Each comparator trains
# from step 0 with the recipe the model's last stages ended with (SNR -5..25 dB, a quarter of the steps over Rayleigh,
# log-MSE), which the model itself had only for its later steps, so the comparison errs toward the comparators:
# make train-fixed-comparator9 RATIO=1/8 [RESUME=--resume]
# (on a CPU without bf16, where --precision bf16 is refused: RESUME="--precision fp32" for a new run, or
# RESUME="--resume --precision fp32 --allow-precision-change" to continue a bf16 one; TRAINING.md)
# all seven, trained and evaluated one after another, resuming where the last sitting stopped:
# make train-fixed-comparator9-all [RATIOS="1/16 1/32"]
train-fixed-comparator9-all: $(STAMP)
	DATA=$(DATA) BIN=$(BIN) $(if $(RATIOS),RATIOS="$(RATIOS)") train/comparators9.sh

CMP9_ARGS = $(subst --snr-max-db 20,--snr-max-db 25,$(RA_ARGS)) --rayleigh-share 0.25 --loss log-mse
train-fixed-comparator9: $(STAMP)
	$(JR) train $(CMP9_ARGS) --decoder-blocks 4 --ratio $(RATIO) --steps 13000 --warmup 200 --val-every 13000 --out train/checkpoints/fixed-comparator9-$(subst /,_,$(RATIO)) --no-progress $(RESUME)
