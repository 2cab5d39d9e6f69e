// The reference networks the benchmarks time, built the way their PyTorch peers build them.
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/layers.js';

/** conv-4: 4 x [conv3x3 64, batch norm, ReLU, 2x2 max-pool], then a 64 -> 64 linear layer (28x28 input). */
export function conv4ReferenceNet(): Sequential {
  const block = (i: number, o: number) => [
    new Conv2d(i, o, 3, { padding: 1 }),
    new BatchNorm2d(o),
    new ReLU(),
    new MaxPool2d(2),
  ];
  return new Sequential(
    ...block(1, 64),
    ...block(64, 64),
    ...block(64, 64),
    ...block(64, 64),
    new Flatten(),
    new Linear(64, 64),
  );
}
