"""Image data: folders, Kodak, random crops, evaluation padding, embedded samples."""
from jscc_rt.data.crops import RandomCropSampler, crop_back, pad_to_multiple
from jscc_rt.data.images import DATA_ENV, ImageFolder, list_images, load_image, resolve_data_dir, save_image
from jscc_rt.data.kodak import KODAK_COUNT, eval_images, kodak
from jscc_rt.data.samples import sample_images, synthetic_image

__all__ = [
    "DATA_ENV", "ImageFolder", "KODAK_COUNT", "RandomCropSampler", "crop_back", "eval_images", "kodak",
    "list_images", "load_image", "pad_to_multiple", "resolve_data_dir", "sample_images", "save_image",
    "synthetic_image",
]
