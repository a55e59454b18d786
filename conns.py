import socket, sys, time, os
pid = sys.argv[1]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
N=2000
base=rss()
socks=[]
preface=b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
for i in range(N):
    s=socket.create_connection(("127.0.0.1",18080)); s.sendall(preface); socks.append(s)
time.sleep(2)
# drain server settings
for s in socks:
    s.setblocking(False)
    try: s.recv(65536)
    except Exception: pass
time.sleep(1)
h2=rss()
h1=[]
for i in range(N):
    s=socket.create_connection(("127.0.0.1",18080)); s.sendall(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n"); h1.append(s)
time.sleep(3)
after=rss()
print(f"h2c idle: {(h2-base)/N:.2f} KiB/conn; http1 kept-alive after one request: {(after-h2)/N:.2f} KiB/conn (rss base {base} KiB)")
