// A TemplateSrv for tests, following Grafana core's public/app/features/templating/template_srv.ts
// (which is not part of the npm packages): $var, ${var}, ${var:fmt} and [[var]]; scoped vars win;
// "All" gives every option's value, or the custom all value unformatted; a format function gets
// (value, variable); without one an array is written {a,b}.
import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

export interface TestVariable {
  name: string;
  current: string | string[];
  options?: string[];
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}

const RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

export class TestTemplateSrv implements TemplateSrv {
  constructor(public vars: TestVariable[] = []) {}

  getVariables(): TypedVariableModel[] {
    return this.vars.map((v) => ({
      type: 'custom',
      name: v.name,
      multi: !!v.multi,
      includeAll: !!v.includeAll,
      allValue: v.allValue,
      current: { text: v.current, value: v.current },
      options: (v.options ?? []).map((o) => ({ text: o, value: o, selected: false })),
    })) as unknown as TypedVariableModel[];
  }

  containsTemplate(target?: string): boolean {
    return !!target && [...target.matchAll(RE)].some((m) => this.find(m[1] ?? m[2] ?? m[4]));
  }

  updateTimeRange(): void {}

  private find(name: string) {
    return this.vars.find((v) => v.name === name);
  }

  replace(target?: string, scopedVars?: ScopedVars, format?: string | Function): string {
    if (!target) {
      return target ?? '';
    }
    return target.replace(RE, (match, v1, v2, _f2, v3) => {
      const name = v1 ?? v2 ?? v3;
      const scoped = scopedVars?.[name];
      const variable = this.find(name);
      if (scoped) {
        return this.format(scoped.value as string | string[], variable ?? { name, current: '' }, format);
      }
      if (!variable) {
        return match;
      }
      let value: string | string[] = variable.current;
      const isAll = value === '$__all' || (Array.isArray(value) && value[0] === '$__all');
      if (isAll) {
        if (variable.allValue) {
          return variable.allValue;
        }
        value = (variable.options ?? []).filter((o) => o !== '$__all');
      }
      return this.format(value, variable, format);
    });
  }

  private format(value: string | string[], variable: TestVariable, format?: string | Function): string {
    if (typeof format === 'function') {
      return format(value, { ...variable, multi: !!variable.multi, includeAll: !!variable.includeAll });
    }
    if (Array.isArray(value)) {
      return value.length === 1 ? value[0] : `{${value.join(',')}}`;
    }
    return value;
  }
}
