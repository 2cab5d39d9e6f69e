// `twinshot export`: a trained model folder as an ONNX file, for onnxruntime in browsers and other languages.
import type { Command } from 'commander';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      'write a model as an ONNX file (opset 20, dynamic batch) plus FILE.json with its preprocessing, metric and threshold',
    )
    .requiredOption('-m, --model <dir>', 'model folder')
    .option('-f, --format <format>', "the file format (only 'onnx')", 'onnx')
    .option('-o, --out <file>', 'the ONNX file (default: DIR/model.onnx, or DIR/model-twin.onnx for --graph twin)')
    .option(
      '--graph <kind>',
      "'embed': images -> the vectors twinshot stores and compares (test-time views included); 'twin': two images -> p(same class)",
      'embed',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  twinshot export --model models/omniglot-fast --format onnx --out omniglot-fast.onnx',
        '  twinshot export --model runs/koch --graph twin --out koch-twin.onnx',
        '',
        "The input is float32 [batch, 1, S, S] in [0, 1] after the model's preprocessing; see docs/export.md.",
      ].join('\n'),
    )
    .action(async (options: { model: string; format: string; out?: string; graph: string }) => {
      const path = await import('node:path');
      const { TwinshotError } = await import('../errors.js');
      const { exportModelFolder, ONNX_GRAPH_KINDS } = await import('../export/onnx-export.js');
      const { resolveModelFolder } = await import('../models/model-folder.js');
      if (options.format !== 'onnx')
        throw new TwinshotError(
          'ERR_ARGUMENT',
          `--format must be 'onnx' (the only export format); got '${options.format}'`,
        );
      const graph = options.graph as (typeof ONNX_GRAPH_KINDS)[number];
      if (!ONNX_GRAPH_KINDS.includes(graph))
        throw new TwinshotError(
          'ERR_ARGUMENT',
          `--graph must be ${ONNX_GRAPH_KINDS.join(' or ')}; got '${options.graph}'`,
        );
      const dir = resolveModelFolder(options.model);
      const out = options.out ?? path.join(dir, graph === 'embed' ? 'model.onnx' : 'model-twin.onnx');
      const started = performance.now();
      const result = exportModelFolder(dir, { out, graph });
      const { manifest } = result;
      const seconds = ((performance.now() - started) / 1000).toFixed(2);
      console.log(
        `${out}: ${(result.bytes.byteLength / 1e6).toFixed(2)} MB, '${manifest.graph}' graph of ${manifest.id}, ` +
          `input ${manifest.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(' + ')}, ` +
          `output ${manifest.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(' + ')} (${seconds} s)`,
      );
      console.log(
        `${result.files[1]}: preprocessing, metric '${manifest.metric}', threshold ${manifest.verification.threshold.toFixed(4)}`,
      );
      const { readModelCard } = await import('../models/model-folder.js');
      const architecture = readModelCard(dir).architecture;
      if (architecture.kind === 'embedding' && architecture.comparator !== undefined)
        console.log(
          "note: the model's pair comparator is not in the file; its scores and threshold are the embedding's (re-ranking runs in twinshot only)",
        );
    });
}
