import type { Command } from './command.js';
import { configValidateCommand } from './config-validate.js';

/**
 * Every subcommand, by its words. Each lives in its own file under cli/; add new ones here.
 */
export const commands: readonly Command[] = [configValidateCommand];
