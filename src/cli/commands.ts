import { announceCommand } from './announce.js';
import type { Command } from './command.js';
import { configValidateCommand } from './config-validate.js';
import { controllerCommand } from './controller.js';
import { sandboxNodeAgentCommand } from './sandbox-node-agent.js';
import { speakerCommand } from './speaker.js';
import { sandboxDownCommand, sandboxServeCommand, sandboxStatusCommand, sandboxUpCommand } from './sandbox.js';

/**
 * Every subcommand, by its words. Each lives in its own file under cli/; add new ones here.
 */
export const commands: readonly Command[] = [
  configValidateCommand,
  controllerCommand,
  announceCommand,
  speakerCommand,
  sandboxUpCommand,
  sandboxDownCommand,
  sandboxStatusCommand,
  sandboxServeCommand,
  sandboxNodeAgentCommand,
];
