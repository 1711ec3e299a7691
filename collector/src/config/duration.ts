// A duration in the config: seconds as a number, or a string such as "90s", "5m", "1h"; an error names what is wrong.
import { z } from 'zod';
import { parseDuration } from '../util/time.js';

export const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^duration: /, '') });
    return z.NEVER;
  }
});
