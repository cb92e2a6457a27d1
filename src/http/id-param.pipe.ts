import { ArgumentMetadata, Param, PipeTransform } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { idProblem } from '../protocol/id.js';

/** Refuses a path parameter that is no id (src/protocol/id.ts) with `invalid_message`, a 400. */
export class IdParamPipe implements PipeTransform<unknown, string> {
  transform(value: unknown, metadata: ArgumentMetadata): string {
    const problem = idProblem(value);
    if (problem) throw new GatewayError(ErrorCode.InvalidMessage, `${metadata.data ?? 'id'} ${problem}`);
    return value as string;
  }
}

export const ID_PARAM_PIPE = new IdParamPipe();

/** `@Param(name)` for a path parameter that is an id. */
export function IdParam(name: string): ParameterDecorator {
  return Param(name, ID_PARAM_PIPE);
}
