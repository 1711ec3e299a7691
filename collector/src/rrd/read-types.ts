// What a read of several series asks for and gets back, shared by the xport and the direct file reader.
export type CF = 'AVERAGE' | 'MIN' | 'MAX' | 'LAST';

export interface ReadSpec {
  file: string;
  ds: string;
}

export interface ReadResult {
  start: number;
  step: number;
  /** One array per spec, aligned to start + i*step; NaN where unknown. */
  columns: Float64Array[];
  timestamps: number[];
}
