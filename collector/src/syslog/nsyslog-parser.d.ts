// Types for nsyslog-parser 0.10 (it ships none): only what rexmon reads.
declare module 'nsyslog-parser' {
  export interface NsyslogEntry {
    originalMessage: string;
    /** `<13>`, or '' when the line has none. */
    pri: string;
    prival: number;
    facilityval?: number;
    levelval?: number;
    facility?: string;
    level?: string;
    version?: number;
    type: 'RFC5424' | 'BSD' | 'UNKNOWN' | 'CEF' | 'LEEF';
    ts?: Date;
    host?: string;
    appName?: string;
    pid?: string;
    messageid?: string;
    message: string;
  }
  export interface NsyslogOptions {
    cef?: boolean;
    leef?: boolean;
    fields?: boolean;
    pid?: boolean;
    generateTimestamp?: boolean;
  }
  /** Never throws: an exception inside becomes `{ err }`. */
  export default function parse(line: string, opts?: NsyslogOptions): NsyslogEntry | { err: unknown };
}
