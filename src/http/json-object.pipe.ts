import { BadRequestException, PipeTransform } from '@nestjs/common';

/** Accepts a body that is a JSON object (not an array, string or nothing). */
export class JsonObjectPipe implements PipeTransform<unknown, Record<string, unknown>> {
  transform(value: unknown): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BadRequestException('The body must be a JSON object');
    }
    return value as Record<string, unknown>;
  }
}
