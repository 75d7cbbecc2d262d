// Command metallb-style answers ARP requests and Neighbor Solicitations for the given addresses
// on one interface the way MetalLB's layer2 speaker does. ARP: github.com/mdlayher/arp, one
// goroutine blocked in Client.Read on a raw AF_PACKET socket, Client.Reply to the requester.
// NDP: github.com/mdlayher/ndp, an ICMPv6 socket bound to the interface's link-local address
// (ndp.Listen(ifi, ndp.LinkLocal)) that joined each owned address's solicited-node group, one
// goroutine blocked in Conn.ReadFrom, and a solicited Neighbor Advertisement written back to the
// soliciter's IPv6 address through the kernel's IPv6 stack. Both look the target up in the owned
// set behind a sync.RWMutex and bump a per-IP counter on every answer. It exists only so that
// bench/layer2.ts can measure ironlb against that design side by side; it is not part of ironlb.
//
// Behaviour follows MetalLB's internal/layer2 (arp.go, ndp.go, announcer.go): ARP ignores
// replies, requests whose Ethernet destination is neither broadcast nor our MAC, and targets we
// do not own; NDP ignores other ICMPv6 messages, solicitations without a source link-layer
// address option (MetalLB #2920) and targets we do not own; the rest is answered. At start it
// sends a gratuitous request and reply per IPv4 address and an unsolicited advertisement per
// IPv6 address.
//
// Usage: metallb-style -interface IF -ip ADDR [-ip ...]. Prints "ready" once it answers;
// exits 0 on SIGTERM or SIGINT.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

type ipList []netip.Addr

func (l *ipList) String() string { return fmt.Sprint([]netip.Addr(*l)) }

func (l *ipList) Set(s string) error {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return fmt.Errorf("-ip %q: not an IP address", s)
	}
	*l = append(*l, ip)
	return nil
}

// owned is the announcer's view: which IPs this node answers for, and how often it did.
type owned struct {
	mu      sync.RWMutex
	ips     map[netip.Addr]bool
	answers map[netip.Addr]uint64 // ip -> answers sent, the stand-in for a Prometheus counter
}

func (o *owned) has(ip netip.Addr) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.ips[ip]
}

func (o *owned) answered(ip netip.Addr) {
	o.mu.Lock()
	o.answers[ip]++
	o.mu.Unlock()
}

func gratuitous(c *arp.Client, mac net.HardwareAddr, ip netip.Addr) error {
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		pkt, err := arp.NewPacket(op, mac, ip, ethernet.Broadcast, ip)
		if err != nil {
			return err
		}
		if err := c.WriteTo(pkt, ethernet.Broadcast); err != nil {
			return err
		}
	}
	return nil
}

// serve answers requests until stopping is set and the client closed.
func serve(c *arp.Client, mac net.HardwareAddr, o *owned, stopping *atomic.Bool) {
	for {
		pkt, eth, err := c.Read()
		if err != nil {
			// A closed mdlayher/socket Conn reads EBADF, not io.EOF: without the flag this
			// loop would spin after Close.
			if stopping.Load() {
				return
			}
			continue // MetalLB counts other read errors and reads on
		}
		if pkt.Operation != arp.OperationRequest {
			continue
		}
		if !bytes.Equal(eth.Destination, ethernet.Broadcast) && !bytes.Equal(eth.Destination, mac) {
			continue
		}
		if !o.has(pkt.TargetIP) {
			continue
		}
		if err := c.Reply(pkt, mac, pkt.TargetIP); err == nil {
			o.answered(pkt.TargetIP)
		}
	}
}

// serveNDP answers Neighbor Solicitations until stopping is set and the conn closed, as MetalLB's
// ndpResponder.processRequest does.
func serveNDP(c *ndp.Conn, mac net.HardwareAddr, o *owned, stopping *atomic.Bool) {
	for {
		msg, _, src, err := c.ReadFrom()
		if err != nil {
			if stopping.Load() {
				return
			}
			continue
		}
		ns, ok := msg.(*ndp.NeighborSolicitation)
		if !ok {
			continue
		}
		if !hasSourceLLA(ns) || !o.has(ns.TargetAddress) {
			continue
		}
		if err := advertise(c, mac, src, ns.TargetAddress, false); err == nil {
			o.answered(ns.TargetAddress)
		}
	}
}

func hasSourceLLA(ns *ndp.NeighborSolicitation) bool {
	for _, opt := range ns.Options {
		if lla, ok := opt.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Source {
			return true
		}
	}
	return false
}

// advertise sends a solicited advertisement to dst, or an unsolicited one (override set) when
// gratuitous, with our MAC as the target link-layer address; MetalLB's ndpResponder.advertise.
func advertise(c *ndp.Conn, mac net.HardwareAddr, dst, target netip.Addr, gratuitous bool) error {
	m := &ndp.NeighborAdvertisement{
		Solicited:     !gratuitous,
		Override:      gratuitous,
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	return c.WriteTo(m, nil, dst)
}

// listenNDP opens the NDP conn on the interface's link-local address, waiting up to 5 s for it
// to leave the tentative state (duplicate address detection after the link came up).
func listenNDP(ifi *net.Interface) (*ndp.Conn, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func main() {
	var ips ipList
	ifName := flag.String("interface", "", "interface to answer on")
	flag.Var(&ips, "ip", "IPv4 or IPv6 address to answer for (repeatable)")
	flag.Parse()
	if *ifName == "" || len(ips) == 0 {
		fmt.Fprintln(os.Stderr, "usage: metallb-style -interface IF -ip ADDR [-ip ...]")
		os.Exit(2)
	}
	ifi, err := net.InterfaceByName(*ifName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "metallb-style: interface %s: %v\n", *ifName, err)
		os.Exit(1)
	}
	o := &owned{ips: map[netip.Addr]bool{}, answers: map[netip.Addr]uint64{}}
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		o.ips[ip] = true
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	var stopping atomic.Bool
	var wg sync.WaitGroup
	var closers []func() error
	if len(v4) > 0 {
		c, err := arp.Dial(ifi)
		if err != nil {
			fmt.Fprintf(os.Stderr, "metallb-style: ARP socket on %s: %v\n", *ifName, err)
			os.Exit(1)
		}
		closers = append(closers, c.Close)
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(c, ifi.HardwareAddr, o, &stopping)
		}()
		for _, ip := range v4 {
			if err := gratuitous(c, ifi.HardwareAddr, ip); err != nil {
				fmt.Fprintf(os.Stderr, "metallb-style: gratuitous ARP for %s: %v\n", ip, err)
			}
		}
	}
	if len(v6) > 0 {
		c, err := listenNDP(ifi)
		if err != nil {
			fmt.Fprintf(os.Stderr, "metallb-style: NDP socket on %s: %v\n", *ifName, err)
			os.Exit(1)
		}
		closers = append(closers, c.Close)
		for _, ip := range v6 {
			group, err := ndp.SolicitedNodeMulticast(ip)
			if err == nil {
				err = c.JoinGroup(group)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "metallb-style: joining the solicited-node group of %s: %v\n", ip, err)
				os.Exit(1)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveNDP(c, ifi.HardwareAddr, o, &stopping)
		}()
		for _, ip := range v6 {
			if err := advertise(c, ifi.HardwareAddr, netip.IPv6LinkLocalAllNodes(), ip, true); err != nil {
				fmt.Fprintf(os.Stderr, "metallb-style: unsolicited advertisement for %s: %v\n", ip, err)
			}
		}
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	stopping.Store(true)
	for _, c := range closers {
		c()
	}
	wg.Wait()
	o.mu.RLock()
	for ip, n := range o.answers {
		fmt.Printf("answered %s %d\n", ip, n)
	}
	o.mu.RUnlock()
}
