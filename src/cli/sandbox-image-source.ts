import { dirname } from 'node:path';
import { checkoutSource } from '../sandbox/kubelet/image-source.js';
import { packageJsonPath } from '../sandbox/plugins.js';
import { AppError } from '../shared/errors.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';

const flagSpec = {
  ...commonFlags,
  checkout: { type: 'string', description: 'the checkout to digest (default: the one this ironlb runs from)' },
} as const;

/**
 * `ironlb sandbox image-source`: internal; prints the digest of the checkout's image build inputs
 * (kubelet/image-source.ts). scripts/build-image.sh labels the image with it, and the sandbox
 * kubelet runs the image only when the label matches the checkout.
 */
export const sandboxImageSourceCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox image-source [--checkout DIR]', flagSpec);
    const checkout = flags.checkout ?? dirname(packageJsonPath);
    const digest = await checkoutSource(checkout);
    if (!digest.ok) throw new AppError('ERR_IMAGE_SOURCE', digest.error);
    ctx.stdout.write(`${digest.value}\n`);
    return exitCode.ok;
  },
};
