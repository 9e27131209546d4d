"""Diffusion receiver: schedules, latent denoiser, samplers, consistency student, receiver."""
from jscc_rt.diffusion.consistency import ConsistencyModel
from jscc_rt.diffusion.denoiser import DenoiserConfig, LatentDenoiser
from jscc_rt.diffusion.receiver import DiffusionReceiver, ReceiverConfig
from jscc_rt.diffusion.samplers import ConsistencySampler, DDIMSampler, DDPMSampler, SamplerOutput
from jscc_rt.diffusion.schedule import NoiseSchedule, from_diffusion, to_diffusion

__all__ = [
    "ConsistencyModel", "ConsistencySampler", "DDIMSampler", "DDPMSampler", "DenoiserConfig", "DiffusionReceiver",
    "LatentDenoiser", "NoiseSchedule", "ReceiverConfig", "SamplerOutput", "from_diffusion", "to_diffusion",
]
