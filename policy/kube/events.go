package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

const (
	// eventReason is the reason of the Events on rejected objects.
	eventReason = "InvalidConfig"
	// eventComponent is the Event source, as `kubectl describe` shows it.
	eventComponent = "gatehouse"
	// maxEventMessage keeps a message within what the events API accepts (1 kB for
	// events.k8s.io notes), counting bytes.
	maxEventMessage = 1024
)

// errorsByFile groups the error problems by the rendered file they are about.
func errorsByFile(ps policy.Problems) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		if p.Severity == policy.Error && strings.HasPrefix(p.Origin.File, "kube:") {
			out[p.Origin.File] = append(out[p.Origin.File], p.String())
		}
	}
	return out
}

// eventMessage joins an object's problems, cut to maxEventMessage bytes.
func eventMessage(problems []string) string {
	msg := strings.Join(problems, "\n")
	if len(msg) <= maxEventMessage {
		return msg
	}
	cut := maxEventMessage - len("…")
	for cut > 0 && !isRuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// newEvent is a core/v1 Warning Event on ref, named as client-go's recorder names them
// (<object>.<hex nanoseconds>) so `kubectl describe` lists it with the object.
func newEvent(ref objectRef, message string, now time.Time) *corev1.Event {
	namespace := ref.namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	ts := metav1.NewTime(now)
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.name, now.UnixNano()), Namespace: namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: ref.apiVersion, Kind: ref.kind, Namespace: ref.namespace, Name: ref.name,
			UID: ref.uid, ResourceVersion: ref.resourceVersion,
		},
		Reason:              eventReason,
		Message:             message,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: eventComponent},
		ReportingController: eventComponent,
		FirstTimestamp:      ts,
		LastTimestamp:       ts,
		Count:               1,
	}
}

// recordRejections creates one Event per rejected object and revision: an object that stays
// invalid across rebuilds caused by other objects gets no second Event, an edit that is still
// invalid gets a new one. refs maps rendered files to their objects.
func (s *Source) recordRejections(ctx context.Context, problems policy.Problems, refs map[string]objectRef) {
	for file, msgs := range errorsByFile(problems) {
		ref, ok := refs[file]
		if !ok {
			continue
		}
		key := file
		if ref.uid != "" {
			key = string(ref.uid)
		}
		if s.recorded[key] == ref.revision() {
			continue
		}
		s.recorded[key] = ref.revision()
		for _, m := range msgs {
			s.log.Error("config rejected", "object", file, "problem", m)
		}
		if s.opts.Kube == nil {
			continue
		}
		ev := newEvent(ref, eventMessage(msgs), time.Now())
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.opts.Kube.CoreV1().Events(ev.Namespace).Create(cctx, ev, metav1.CreateOptions{})
		cancel()
		if err != nil {
			s.log.Warn("cannot record Event on rejected object", "object", file, "error", err)
		}
	}
}

// forgetRecorded drops the Event bookkeeping of objects that are gone or valid again, so a later
// return of the same mistake is reported.
func (s *Source) forgetRecorded(problems policy.Problems, refs map[string]objectRef) {
	bad := errorsByFile(problems)
	keep := map[string]bool{}
	for file := range bad {
		if ref, ok := refs[file]; ok {
			if ref.uid != "" {
				keep[string(ref.uid)] = true
			} else {
				keep[file] = true
			}
		}
	}
	for k := range s.recorded {
		if !keep[k] {
			delete(s.recorded, k)
		}
	}
}
