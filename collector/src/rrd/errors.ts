export class RrdError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    /** Set when the command was sent again after its process or connection died: part of it may have been applied. */
    readonly retried = false,
    /** rrdtool itself answered ERROR for this command (the process is fine; the command or its file is not). */
    readonly fromRrdtool = false,
  ) {
    super(message);
    this.name = 'RrdError';
  }
}

/** rrdtool or rrdcached answered this one command with an error; the process and connection are fine. */
export class RrdReplyError extends RrdError {}

const STALE = /illegal attempt to update using time (\d+)(?:\.\d*)? when last update time is (\d+)(?:\.\d*)?/;

/** rrdtool/rrdcached refuse a time not after the file's last update; returns the refused and the last time. */
export function parseStale(message: string): { refused: number; last: number } | undefined {
  const m = STALE.exec(message);
  return m ? { refused: Number(m[1]), last: Number(m[2]) } : undefined;
}
