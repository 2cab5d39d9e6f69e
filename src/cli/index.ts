// CLI entry: one commander program, one file per command (src/cli/*.ts).
import { Command } from 'commander';
import { registerInfoCommand } from './info.js';
import { registerServeCommand } from './serve.js';
import { registerGalleryCommand } from './gallery.js';
import { registerKeysCommand } from './keys.js';
import { registerDataCommand } from './data.js';
import { registerTrainCommand } from './train.js';
import { registerEvalCommand } from './eval.js';
import { registerEmbedVerifyCommands } from './embed-verify.js';
import { registerEnsembleCommand } from './ensemble.js';
import { registerExportCommand } from './export.js';

export function buildProgram(): Command {
  const program = new Command()
    .name('twinshot')
    .description('One-shot image recognition with twin (Siamese) networks on libtorch')
    .showHelpAfterError();
  registerInfoCommand(program);
  registerServeCommand(program);
  registerGalleryCommand(program);
  registerKeysCommand(program);
  registerDataCommand(program);
  registerTrainCommand(program);
  registerEvalCommand(program);
  registerEmbedVerifyCommands(program);
  registerEnsembleCommand(program);
  registerExportCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
