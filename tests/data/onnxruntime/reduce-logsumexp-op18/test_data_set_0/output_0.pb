By0J<)™Bí×”B“qEB½\B–‘B…`6Bp¿Am
GB/Ñ?Bþ,ñA÷qbBÈWB,i(B:ÑÂAAB