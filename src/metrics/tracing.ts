/**
 * Optional OpenTelemetry traces: when OTEL_EXPORTER_OTLP_ENDPOINT is set, the worker exports a
 * span per activity (RunActivity:runStep, ...) and, when it bundles the workflow code itself,
 * per workflow run too, through @temporalio/interceptors-opentelemetry and the OTLP/HTTP
 * exporter (which reads the OTEL_EXPORTER_OTLP_* variables). Loaded only then: a worker without
 * the variable loads none of OpenTelemetry.
 */
import { createRequire } from 'node:module';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';

export interface Tracing {
  activity: ActivityInterceptorsFactory;
  /** Workflow spans go out through this sink, with the interceptor module in the workflow bundle. */
  sinks: InjectedSinks<OpenTelemetrySinks>;
  workflowInterceptorModule: string;
  shutdown(): Promise<void>;
}

export function loadTracing(env: NodeJS.ProcessEnv = process.env): Tracing | null {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) return null;
  // CommonJS packages, loaded from node_modules as they are (the CLI's bundle leaves them out).
  const load = createRequire(import.meta.url);
  const otel = load('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  const { BasicTracerProvider, BatchSpanProcessor } = load('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = load('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { Resource } = load('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME ?? 'godwit-worker' });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  const tracer = provider.getTracer('godwit');
  return {
    activity: (ctx) => ({
      inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
      outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    sinks: { exporter: otel.makeWorkflowExporter(processor, resource) },
    workflowInterceptorModule: load.resolve('@temporalio/interceptors-opentelemetry/lib/workflow'),
    shutdown: () => provider.shutdown(),
  };
}
