// The data pipeline's public surface: sources, ImageSet, splits, augmentation, samplers, cache.
export { Rng, toRng, type RngState } from './random.js';
export { ImageSet, concatImageSets, type ImageSetInit, type SkippedFile } from './dataset.js';
export { decodeImage, type Preprocessing, type DecodeLimits } from './image.js';
export { decodeMany, type ImageSource, type DecodeManyOptions, type DecodeManyResult } from './decode.js';
export { decodeGrayPng, isPng, type GrayImage } from './png.js';
export { GrayResizer } from './resize.js';
export { buildImageSet, type LoadOptions, type LabeledSource } from './build.js';
export {
  loadOmniglot,
  locateOmniglot,
  omniglotDownloadDir,
  omniglotDrawer,
  OMNIGLOT_FILES,
  OMNIGLOT_RUNS,
  type LoadOmniglotOptions,
  type OmniglotSplit,
} from './omniglot.js';
export { readOmniglotFiles, type OmniglotFiles, type ReadOmniglotFilesOptions } from './omniglot-files.js';
export { loadImageFolder, IMAGE_EXTENSIONS, type LoadImageFolderOptions, type FolderLayout } from './image-folder.js';
export {
  loadManifest,
  readManifest,
  parseCsv,
  MANIFEST_COLUMNS,
  type LoadManifestOptions,
  type ManifestEntry,
} from './manifest.js';
export { defaultCacheDir, readCachedSet, writeCachedSet, cacheKey, cacheFile, CACHE_FORMAT_VERSION } from './cache.js';
export {
  splitByClass,
  splitByGroup,
  drawerSplit,
  splitIndices,
  splitCounts,
  type SplitSizes,
  type DrawerSplitOptions,
} from './splits.js';
export {
  RandomAffine,
  applyAffine,
  affineThetas,
  expandRotations,
  AFFINE_COMPONENTS,
  IDENTITY_AFFINE,
  type AffineParams,
  type AffineComponent,
  type RandomAffineOptions,
  type ElasticOptions,
} from './augment.js';
export {
  PairSampler,
  PKSampler,
  EpisodeSampler,
  type SamplerState,
  type PairBatch,
  type PairSamplerOptions,
  type PKBatch,
  type PKSamplerOptions,
  type Episode,
  type EpisodeSamplerOptions,
} from './samplers.js';
export {
  kochOneShotTasks,
  readOneShotRuns,
  type OneShotTask,
  type OneShotRuns,
  type KochOneShotOptions,
  type ReadOneShotRunsOptions,
} from './one-shot.js';
export { downloadOmniglot, downloadFile, type DownloadOptions, type DownloadTarget } from './download.js';
export { loadMnistDigits } from './mnist.js';
