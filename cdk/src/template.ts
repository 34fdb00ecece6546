// infra/sam-template.yaml as the construct sees it: read into CloudFormation's JSON form,
// parameters checked as CloudFormation would check them, and specialized for the values the props
// give. Specializing does at synth what CloudFormation does at deploy time with parameter values:
// each condition is decided, resources and outputs under a false condition go, and each `Fn::If`
// becomes the branch it picks. The result is the template CloudFormation would deploy, so what is
// linted and tested is the configuration the app asked for, with no dead branch left holding an
// empty value and no condition that is constant.

import * as fs from 'node:fs';
import { Token } from 'aws-cdk-lib';
import * as YAML from 'yaml';

/** A CloudFormation template (or a part of one) in its JSON form. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** One entry of a template's `Parameters` section, as CloudFormation documents it. */
export interface ParameterSpec {
  readonly Type: string;
  readonly Default?: string | number;
  readonly AllowedPattern?: string;
  readonly AllowedValues?: ReadonlyArray<string | number>;
  readonly MinValue?: number;
  readonly MaxValue?: number;
  readonly Description?: string;
}

const PREFIXED = new Set([
  'And', 'Base64', 'Cidr', 'Equals', 'FindInMap', 'GetAZs', 'GetAtt', 'If', 'ImportValue', 'Join',
  'Not', 'Or', 'Select', 'Split', 'Sub', 'Transform',
]);

/** Reads a CloudFormation YAML template, short-form intrinsics (`!Ref`, `!Sub`, ...) included. */
export function readTemplate(file: string): JsonObject {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new Error(`Keyhole: ${file} is not valid YAML: ${doc.errors[0].message}`);
  }
  const convert = (node: unknown): Json => {
    if (YAML.isAlias(node)) {
      return convert(node.resolve(doc));
    }
    let value: Json;
    if (YAML.isScalar(node)) {
      value = node.value as Json;
    } else if (YAML.isMap(node)) {
      value = {};
      for (const pair of node.items) {
        value[String(YAML.isScalar(pair.key) ? pair.key.value : pair.key)] = convert(pair.value);
      }
    } else if (YAML.isSeq(node)) {
      value = node.items.map(convert);
    } else {
      return null;
    }
    const tag = (node as { tag?: string }).tag;
    if (tag === '!Ref' || tag === '!Condition') {
      return { [tag.slice(1)]: value };
    }
    if (tag === '!GetAtt' && typeof value === 'string') {
      // `!GetAtt Name.Attribute` is the short form of the list form JSON templates use.
      const dot = value.indexOf('.');
      return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
    }
    if (tag?.startsWith('!') && PREFIXED.has(tag.slice(1))) {
      return { [`Fn::${tag.slice(1)}`]: value };
    }
    return value;
  };
  const template = convert(doc.contents);
  if (template === null || typeof template !== 'object' || Array.isArray(template)) {
    throw new Error(`Keyhole: ${file} is not a CloudFormation template`);
  }
  return template;
}

export function parametersOf(template: JsonObject): Record<string, ParameterSpec> {
  return (template.Parameters ?? {}) as unknown as Record<string, ParameterSpec>;
}

/**
 * Checks `value` for parameter `name` as CloudFormation would at deploy time, and throws an error
 * naming the prop. Values only known at deploy time (tokens) are left to CloudFormation and AWS.
 */
export function checkParameterValue(prop: string, name: string, spec: ParameterSpec, value: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  const fail = (problem: string): never => {
    const about = spec.Description ? ` (${spec.Description})` : '';
    throw new Error(`Keyhole: ${prop} ${problem}, got ${JSON.stringify(value)}; it sets the template parameter ${name}${about}`);
  };
  // The construct writes the value into the template itself; inside an Fn::Sub (the edge check's
  // code, ASSET_BASE_URL) a "${" would be read as a reference to something else.
  if (value.includes('${')) {
    fail('must not contain "${"');
  }
  if (spec.AllowedValues && !spec.AllowedValues.map(String).includes(value)) {
    fail(`must be one of ${spec.AllowedValues.map((v) => JSON.stringify(String(v))).join(', ')}`);
  }
  if (spec.Type === 'Number') {
    if (!/^-?[0-9]+(\.[0-9]+)?$/.test(value)) {
      fail('must be a number');
    }
    if (spec.MinValue !== undefined && Number(value) < spec.MinValue) {
      fail(`must be at least ${spec.MinValue}`);
    }
    if (spec.MaxValue !== undefined && Number(value) > spec.MaxValue) {
      fail(`must be at most ${spec.MaxValue}`);
    }
  }
  // CloudFormation matches AllowedPattern against the whole value.
  if (spec.AllowedPattern !== undefined && !new RegExp(`^(?:${spec.AllowedPattern})$`).test(value)) {
    fail(`does not match ${spec.AllowedPattern}`);
  }
}

/**
 * The template specialized for `values` (parameter name to value). Every condition is decided:
 * the template's conditions only ask whether a parameter is empty, and a value given as a token
 * (known only at deploy time, such as a user pool's id) counts as given. A condition that asks
 * anything else of a token cannot be decided at synth, and is an error. Parameters stay for
 * CfnInclude to substitute; rules and the console's parameter groups go, since no parameter is
 * left for them to talk about.
 */
export function specialize(template: JsonObject, values: Readonly<Record<string, string>>): JsonObject {
  const definitions = (template.Conditions ?? {}) as JsonObject;
  const decided = new Map<string, boolean>();

  const operand = (x: Json, where: string): { value: string } | { token: string } => {
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') {
      return { value: String(x) };
    }
    if (isObject(x) && typeof x.Ref === 'string' && x.Ref in values) {
      return Token.isUnresolved(values[x.Ref]) ? { token: x.Ref } : { value: values[x.Ref] };
    }
    throw new Error(`Keyhole: condition ${where} compares ${JSON.stringify(x)}, which the construct cannot evaluate`);
  };
  const condition = (name: string): boolean => {
    if (!decided.has(name)) {
      if (!(name in definitions)) {
        throw new Error(`Keyhole: the template refers to an unknown condition ${name}`);
      }
      decided.set(name, evaluate(definitions[name], name));
    }
    return decided.get(name) as boolean;
  };
  const evaluate = (expr: Json, where: string): boolean => {
    if (!isObject(expr) || Object.keys(expr).length !== 1) {
      throw new Error(`Keyhole: condition ${where} has ${JSON.stringify(expr)}, which is not a condition expression`);
    }
    const [fn, args] = Object.entries(expr)[0];
    const list = (n?: number): Json[] => {
      if (!Array.isArray(args) || (n !== undefined && args.length !== n)) {
        throw new Error(`Keyhole: condition ${where} has a malformed ${fn}`);
      }
      return args;
    };
    switch (fn) {
      case 'Condition':
        return condition(args as string);
      case 'Fn::Equals': {
        const [a, b] = list(2).map((x) => operand(x, where));
        if ('value' in a && 'value' in b) {
          return a.value === b.value;
        }
        const other = 'value' in a ? a : 'value' in b ? b : undefined;
        if (other?.value === '') {
          return false;
        }
        const name = 'token' in a ? a.token : (b as { token: string }).token;
        throw new Error(`Keyhole: condition ${where} needs the value of ${name} at synth; give that prop as a plain value, not a token`);
      }
      case 'Fn::Not':
        return !evaluate(list(1)[0], where);
      case 'Fn::And':
        return list().map((x) => evaluate(x, where)).every(Boolean);
      case 'Fn::Or':
        return list().map((x) => evaluate(x, where)).some(Boolean);
      default:
        throw new Error(`Keyhole: condition ${where} uses ${fn}, which the construct cannot evaluate`);
    }
  };
  for (const name of Object.keys(definitions)) {
    condition(name);
  }

  const out: JsonObject = { ...template };
  delete out.Rules;
  if (isObject(out.Metadata)) {
    const { ['AWS::CloudFormation::Interface']: _groups, ...rest } = out.Metadata;
    if (Object.keys(rest).length > 0) {
      out.Metadata = rest;
    } else {
      delete out.Metadata;
    }
  }

  delete out.Conditions;

  const NO_VALUE = Symbol('AWS::NoValue');
  const rewrite = (x: Json): Json | typeof NO_VALUE => {
    if (Array.isArray(x)) {
      return x.map(rewrite).filter((v): v is Json => v !== NO_VALUE);
    }
    if (!isObject(x)) {
      return x;
    }
    if (x.Ref === 'AWS::NoValue' && Object.keys(x).length === 1) {
      return NO_VALUE;
    }
    const ifArgs = x['Fn::If'];
    if (Array.isArray(ifArgs) && Object.keys(x).length === 1) {
      return rewrite(condition(ifArgs[0] as string) ? ifArgs[1] : ifArgs[2]);
    }
    const obj: JsonObject = {};
    for (const [k, v] of Object.entries(x)) {
      const r = rewrite(v);
      if (r !== NO_VALUE) {
        obj[k] = r;
      }
    }
    return obj;
  };
  const section = (name: 'Resources' | 'Outputs'): { kept: JsonObject; dropped: string[] } => {
    const kept: JsonObject = {};
    const dropped: string[] = [];
    for (const [id, element] of Object.entries((template[name] ?? {}) as JsonObject)) {
      const el = { ...(element as JsonObject) };
      if (typeof el.Condition === 'string') {
        if (!condition(el.Condition)) {
          dropped.push(id);
          continue;
        }
        delete el.Condition;
      }
      kept[id] = rewrite(el) as JsonObject;
    }
    return { kept, dropped };
  };
  const resources = section('Resources');
  const outputs = section('Outputs');
  for (const resource of Object.values(resources.kept) as JsonObject[]) {
    if (resource.DependsOn !== undefined) {
      const dependsOn = ([] as Json[]).concat(resource.DependsOn).filter((d) => !resources.dropped.includes(d as string));
      if (dependsOn.length > 0) {
        resource.DependsOn = dependsOn;
      } else {
        delete resource.DependsOn;
      }
    }
  }
  out.Resources = resources.kept;
  if (template.Outputs !== undefined) {
    out.Outputs = outputs.kept;
  }

  // What CloudFormation would refuse: something left that points at a resource that is gone.
  const text = JSON.stringify({ Resources: out.Resources, Outputs: out.Outputs });
  for (const id of resources.dropped) {
    if (text.includes(`{"Ref":"${id}"}`) || text.includes(`"Fn::GetAtt":["${id}"`) || text.includes(`"Fn::GetAtt":"${id}.`) || new RegExp(`\\$\\{${id}[.}]`).test(text)) {
      throw new Error(`Keyhole: with these props the template's ${id} is not created, yet something still refers to it`);
    }
  }
  return out;
}

function isObject(x: Json | undefined): x is JsonObject {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}
