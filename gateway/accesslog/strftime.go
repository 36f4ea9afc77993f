package accesslog

import (
	"fmt"
	"strconv"
	"time"
)

// timeLayout is a compiled %START_TIME(...)% argument: strftime conversions plus Envoy's own
// %f / %1f..%9f (fractions of a second to that many digits; %f is nanoseconds) and %s (Unix
// seconds). Envoy prints START_TIME in UTC whatever the layout, so %z is +0000 and %Z is UTC.
type timeLayout []timePiece

// timePiece is literal text (verb 0) or one conversion.
type timePiece struct {
	lit   string
	verb  byte
	width int // digits of %Nf
}

// compileTimeLayout parses a strftime layout once, at config time. A conversion it does not
// know is kept as literal text and reported, so a typo shows in the log rather than vanishing.
func compileTimeLayout(layout string) (timeLayout, []string) {
	var out timeLayout
	var warnings []string
	lit := func(s string) {
		if n := len(out); n > 0 && out[n-1].verb == 0 {
			out[n-1].lit += s
			return
		}
		out = append(out, timePiece{lit: s})
	}
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' || i+1 == len(layout) {
			lit(string(c))
			continue
		}
		i++
		v := layout[i]
		switch {
		case v >= '1' && v <= '9' && i+1 < len(layout) && layout[i+1] == 'f':
			out = append(out, timePiece{verb: 'f', width: int(v - '0')})
			i++
		case v == 'f':
			out = append(out, timePiece{verb: 'f', width: 9})
		case v == '%':
			lit("%")
		case v == 'n':
			lit("\n")
		case v == 't':
			lit("\t")
		case v == 'F':
			out = append(out, timePiece{verb: 'Y'}, timePiece{lit: "-"}, timePiece{verb: 'm'}, timePiece{lit: "-"}, timePiece{verb: 'd'})
		case v == 'T':
			out = append(out, timePiece{verb: 'H'}, timePiece{lit: ":"}, timePiece{verb: 'M'}, timePiece{lit: ":"}, timePiece{verb: 'S'})
		case v == 'R':
			out = append(out, timePiece{verb: 'H'}, timePiece{lit: ":"}, timePiece{verb: 'M'})
		case v == 'D':
			out = append(out, timePiece{verb: 'm'}, timePiece{lit: "/"}, timePiece{verb: 'd'}, timePiece{lit: "/"}, timePiece{verb: 'y'})
		case timeVerbs[v]:
			out = append(out, timePiece{verb: v})
		default:
			warnings = append(warnings, fmt.Sprintf("START_TIME format %q: unknown conversion %%%c is printed as it is", layout, v))
			lit(layout[i-1 : i+1])
		}
	}
	return out, warnings
}

// timeVerbs are the single-letter conversions appendTimeLayout prints.
var timeVerbs = [256]bool{'Y': true, 'y': true, 'C': true, 'm': true, 'd': true, 'e': true, 'j': true,
	'H': true, 'I': true, 'M': true, 'S': true, 'p': true, 'a': true, 'A': true, 'b': true, 'h': true,
	'B': true, 'u': true, 'w': true, 'z': true, 'Z': true, 's': true}

func (l timeLayout) appendTo(b []byte, t time.Time) []byte {
	t = t.UTC()
	for _, p := range l {
		switch p.verb {
		case 0:
			b = append(b, p.lit...)
		case 'Y':
			b = appendDigits(b, t.Year(), 4)
		case 'y':
			b = appendDigits(b, t.Year()%100, 2)
		case 'C':
			b = appendDigits(b, t.Year()/100, 2)
		case 'm':
			b = appendDigits(b, int(t.Month()), 2)
		case 'd':
			b = appendDigits(b, t.Day(), 2)
		case 'e':
			if t.Day() < 10 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'j':
			b = appendDigits(b, t.YearDay(), 3)
		case 'H':
			b = appendDigits(b, t.Hour(), 2)
		case 'I':
			b = appendDigits(b, (t.Hour()+11)%12+1, 2)
		case 'M':
			b = appendDigits(b, t.Minute(), 2)
		case 'S':
			b = appendDigits(b, t.Second(), 2)
		case 'p':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'a':
			b = append(b, t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, t.Weekday().String()...)
		case 'b', 'h':
			b = append(b, t.Month().String()[:3]...)
		case 'B':
			b = append(b, t.Month().String()...)
		case 'u':
			b = strconv.AppendInt(b, int64((int(t.Weekday())+6)%7+1), 10)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'z':
			b = append(b, "+0000"...)
		case 'Z':
			b = append(b, "UTC"...)
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'f':
			ns := t.Nanosecond()
			for range 9 - p.width {
				ns /= 10
			}
			b = appendDigits(b, ns, p.width)
		}
	}
	return b
}
