// Package otelstore measures and traces a [storage.Store] through the
// OpenTelemetry API: every call records its duration in the histogram
// sessionguard.store.operation.duration (seconds) and runs inside a span
// named "sessionguard.store <Method>".
//
// [session.New] wraps its Config.Store with it using the Config's
// providers, so an application normally never calls [New] itself. Wrap a
// store yourself to measure the calls of the packages that take their own
// Store (such as totp), and pass the wrapped store everywhere:
// session.New recognises a *Store and does not wrap it twice.
//
// Recorded attributes are low-cardinality and never identify a user or a
// credential: sessionguard.store.backend (the backend's package name, such
// as "postgres"), sessionguard.store.operation (the method name, such as
// "GetSession") and, for a failed call, error.type ("timeout", "canceled"
// or "_OTHER"). Expected answers ([storage.ErrNotFound], [storage.ErrConflict],
// [storage.ErrStaleStep], [storage.ErrLocked]) are not failures. Spans carry
// no user ID, token hash, handle, code or address, and an error's status
// description is its error.type, never its message.
//
// [session.New]: https://pkg.go.dev/github.com/sessionguard/sessionguard/session#New
package otelstore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionguard/sessionguard/storage"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/sessionguard/sessionguard/storage/otelstore"

// Metric and attribute names.
const (
	MetricOperationDuration = "sessionguard.store.operation.duration"
	AttrBackend             = "sessionguard.store.backend"
	AttrOperation           = "sessionguard.store.operation"
)

// Options configure [New]. The zero value uses the global providers.
type Options struct {
	// MeterProvider receives the duration histogram. Default
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider receives the spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Backend is recorded as sessionguard.store.backend. Default: the last
	// element of the store's package path ("memory", "sqlite", "postgres",
	// "redis").
	Backend string
}

// Store is a [storage.Store] that measures and traces every call to the
// store it wraps. It is safe for concurrent use, as the wrapped store is.
type Store struct {
	next     storage.Store
	backend  string
	duration metric.Float64Histogram
	tracer   trace.Tracer
	ops      [numOps]opTelemetry
}

// opTelemetry holds what one operation records, built once in New so that a
// call allocates nothing for its attributes.
type opTelemetry struct {
	spanName  string
	spanStart []trace.SpanStartOption
	ok        []metric.RecordOption
	failed    [numErrTypes][]metric.RecordOption
}

// error.type values of failed calls.
const (
	errTimeout = iota
	errCanceled
	errOther
	numErrTypes
)

var errTypeNames = [numErrTypes]string{"timeout", "canceled", "_OTHER"}

// New returns s measured and traced. It fails only if an instrument cannot
// be created.
func New(s storage.Store, opts Options) (*Store, error) {
	if s == nil {
		return nil, errors.New("storage/otelstore: nil store")
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.Backend == "" {
		opts.Backend = backendName(s)
	}
	d, err := opts.MeterProvider.Meter(ScopeName).Float64Histogram(MetricOperationDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of session storage operations."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, fmt.Errorf("storage/otelstore: %w", err)
	}
	w := &Store{next: s, backend: opts.Backend, duration: d, tracer: opts.TracerProvider.Tracer(ScopeName)}
	backend := attribute.String(AttrBackend, opts.Backend)
	for i := range w.ops {
		op := attribute.String(AttrOperation, opNames[i])
		o := &w.ops[i]
		o.spanName = "sessionguard.store " + opNames[i]
		o.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(backend, op)}
		o.ok = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(backend, op))}
		for e := range o.failed {
			o.failed[e] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(backend, op, attribute.String("error.type", errTypeNames[e])))}
		}
	}
	return w, nil
}

// backendName is the last element of the package path of s's type.
func backendName(s storage.Store) string {
	t := reflect.TypeOf(s)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := t.PkgPath(); p != "" {
		return path.Base(p)
	}
	return "unknown"
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() storage.Store { return s.next }

// Backend returns the name recorded as sessionguard.store.backend.
func (s *Store) Backend() string { return s.backend }

// call is one measured call in flight.
type call struct {
	s     *Store
	op    op
	start time.Time
	span  trace.Span
}

type op int

func (s *Store) start(ctx context.Context, o op) (context.Context, call) {
	ctx, span := s.tracer.Start(ctx, s.ops[o].spanName, s.ops[o].spanStart...)
	return ctx, call{s: s, op: o, start: time.Now(), span: span}
}

func (c call) end(ctx context.Context, err error) {
	d := time.Since(c.start).Seconds()
	o := &c.s.ops[c.op]
	if e, failed := classify(err); failed {
		c.s.duration.Record(ctx, d, o.failed[e]...)
		if c.span.IsRecording() {
			c.span.SetAttributes(attribute.String("error.type", errTypeNames[e]))
			c.span.SetStatus(codes.Error, errTypeNames[e])
		}
	} else {
		c.s.duration.Record(ctx, d, o.ok...)
	}
	c.span.End()
}

// classify reports whether err is a failure and its error.type.
func classify(err error) (int, bool) {
	switch {
	case err == nil, errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict),
		errors.Is(err, storage.ErrStaleStep), errors.Is(err, storage.ErrLocked):
		return 0, false
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout, true
	case errors.Is(err, context.Canceled):
		return errCanceled, true
	}
	return errOther, true
}

// Subscribe implements [storage.Notifier]: it passes through unmeasured
// (the Manager measures the notices it receives).
func (s *Store) Subscribe(fn func(storage.Revocation)) (cancel func(), err error) {
	return s.next.Subscribe(fn)
}

// Close closes the wrapped store.
func (s *Store) Close() error { return s.next.Close() }

var _ storage.Store = (*Store)(nil)
