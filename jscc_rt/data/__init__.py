"""Image data: folders, Kodak, random crops, evaluation padding, embedded samples."""
from jscc_rt.data.crops import RandomCropSampler, crop_back, pad_to_multiple
from jscc_rt.data.images import (
    DATA_ENV,
    DEFAULT_MAX_PIXELS,
    ImageFolder,
    image_size,
    list_images,
    load_image,
    resolve_data_dir,
    save_image,
)
from jscc_rt.data.kodak import KODAK_COUNT, KODAK_NAMES, eval_images, kodak, min_image_side
from jscc_rt.data.samples import sample_images, synthetic_image

__all__ = [
    "DATA_ENV", "DEFAULT_MAX_PIXELS", "ImageFolder", "KODAK_COUNT", "KODAK_NAMES", "RandomCropSampler", "crop_back",
    "eval_images", "image_size", "kodak", "list_images", "load_image", "min_image_side", "pad_to_multiple",
    "resolve_data_dir", "sample_images", "save_image", "synthetic_image",
]
